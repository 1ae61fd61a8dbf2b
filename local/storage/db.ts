// Storage's database side: a caller's statements run inside a transaction scoped to their API
// role and claims (Storage's own set_config list), so storage RLS decides exactly as on
// Supabase. What Storage does "as super user" (bucket lookups, public and signed reads) bypasses
// RLS, as the connection's own role or service_role. Each statement lives here once, named for
// what it does.
import type postgres from 'postgres'
import type { Caller } from './caller.ts'

export type Tx = postgres.TransactionSql
export type Sql = postgres.Sql

/** Storage's own identity for bookkeeping (bucket lookups, public reads, signed URLs). */
export const SERVICE: Caller = {
  role: 'service_role',
  claims: { role: 'service_role' },
  authenticated: true,
}

export interface RequestInfo {
  method: string
  path: string
}

/**
 * Runs `fn` in one transaction as `caller`, first taking `lock` (object keys, see lockObjects)
 * in the same round trip. Storage's statements may delete rows: the protect_delete trigger
 * refuses plain SQL deletes, not Storage's own.
 */
export function inScope<T>(
  sql: Sql,
  caller: Caller,
  request: RequestInfo,
  fn: (tx: Tx) => Promise<T>,
  lock: string[] = [],
): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`
      select pg_catalog.set_config('role', ${caller.role}, true),
             pg_catalog.set_config('request.jwt.claim.role', ${caller.role}, true),
             pg_catalog.set_config('request.jwt.claim.sub', ${caller.owner ?? ''}, true),
             pg_catalog.set_config('request.jwt.claims', ${JSON.stringify(caller.claims)}, true),
             pg_catalog.set_config('request.method', ${request.method}, true),
             pg_catalog.set_config('request.path', ${request.path}, true),
             pg_catalog.set_config('storage.allow_delete_query', 'true', true),
             ${locking(tx, lock)}`
    return await fn(tx)
  }) as Promise<T>
}

/** Switches the open transaction to another API role (service_role for a bookkeeping read). */
export async function switchRole(tx: Tx, role: string): Promise<void> {
  await tx`select pg_catalog.set_config('role', ${role}, true)`
}

/**
 * Serialises writers of the same objects (`<bucket>/<name>` keys) until the transaction ends,
 * so a file on disk is only ever replaced by the transaction that also writes its row. Keys are
 * taken in sorted order, so two writers of overlapping sets cannot deadlock.
 */
export async function lockObjects(tx: Tx, keys: string[]): Promise<void> {
  await tx`select ${locking(tx, keys)}`
}

/** The expression that takes lockObjects' locks, also run by inScope's first statement. */
function locking(tx: Tx, keys: string[]) {
  return tx`(
    select count(pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(k.key, 0)))
      from (select distinct u.key from unnest(${keys}::text[]) as u(key) order by u.key) k)`
}

// ---------------------------------------------------------------------------------------------
// buckets
// ---------------------------------------------------------------------------------------------

export interface BucketRow {
  id: string
  name: string
  owner: string | null
  public: boolean
  file_size_limit: number | null
  allowed_mime_types: string[] | null
  type: string
  created_at: Date
  updated_at: Date
}

export async function findBucket(tx: Tx, id: string): Promise<BucketRow | undefined> {
  const [row] = await tx<BucketRow[]>`
    select b.id, b.name, b.owner, b.public, b.file_size_limit::float8 as file_size_limit,
           b.allowed_mime_types, b.type, b.created_at, b.updated_at
      from storage.buckets b
     where b.id = ${id}
     limit 1`
  return row
}

export interface BucketListOptions {
  limit?: number
  offset?: number
  search?: string
  sortColumn?: 'id' | 'name' | 'created_at' | 'updated_at'
  sortOrder?: 'asc' | 'desc'
}

export function listBuckets(tx: Tx, o: BucketListOptions): Promise<BucketRow[]> {
  const pattern = o.search ? `%${o.search.replace(/[\\%_]/g, '\\$&')}%` : null
  // The sort column is one of four names checked by the route; the direction is a keyword.
  const order = o.sortColumn
    ? tx`order by ${tx(o.sortColumn)} ${o.sortOrder === 'desc' ? tx`desc` : tx`asc`}`
    : tx``
  return tx<BucketRow[]>`
    select b.id, b.name, b.owner, b.public, b.file_size_limit::float8 as file_size_limit,
           b.allowed_mime_types, b.type, b.created_at, b.updated_at
      from storage.buckets b
     where ${pattern}::text is null or b.name ilike ${pattern}
     ${order}
     limit ${o.limit ?? null} offset ${o.offset ?? null}`
}

export interface BucketFields {
  public?: boolean
  file_size_limit?: number | null
  allowed_mime_types?: string[] | null
}

export async function insertBucket(
  tx: Tx,
  bucket: BucketFields & { id: string; name: string; owner?: string },
): Promise<void> {
  const uuidOwner = bucket.owner && isUuid(bucket.owner) ? bucket.owner : null
  await tx`
    insert into storage.buckets
      (id, name, owner, owner_id, public, file_size_limit, allowed_mime_types)
    values (${bucket.id}, ${bucket.name}, ${uuidOwner}, ${bucket.owner ?? null},
            ${bucket.public ?? false}, ${bucket.file_size_limit ?? null},
            ${bucket.allowed_mime_types ?? null})`
}

/** Sets the given fields (undefined keeps a column); false when no visible bucket matched. */
export async function updateBucket(tx: Tx, id: string, fields: BucketFields): Promise<boolean> {
  const set = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined))
  const rows = Object.keys(set).length === 0
    ? await tx`select 1 from storage.buckets b where b.id = ${id}`
    : await tx`update storage.buckets set ${tx(set)}, updated_at = now() where id = ${id}
               returning 1`
  return rows.length > 0
}

export async function deleteBucket(tx: Tx, id: string): Promise<boolean> {
  const rows = await tx`delete from storage.buckets b where b.id = ${id} returning 1`
  return rows.length > 0
}

export async function bucketHasObjects(tx: Tx, id: string): Promise<boolean> {
  const rows = await tx`select 1 from storage.objects o where o.bucket_id = ${id} limit 1`
  return rows.length > 0
}

// ---------------------------------------------------------------------------------------------
// objects
// ---------------------------------------------------------------------------------------------

/** What Storage records of a stored file in `storage.objects.metadata`. */
export interface FileMetadata {
  eTag: string
  size: number
  mimetype: string
  cacheControl: string
  lastModified: string
  contentLength: number
  httpStatusCode: number
}

export interface ObjectRow {
  id: string
  bucket_id: string
  name: string
  owner: string | null
  owner_id: string | null
  version: string | null
  metadata: FileMetadata | null
  user_metadata: Record<string, unknown> | null
  created_at: Date
  updated_at: Date
  last_accessed_at: Date
}

export async function findObject(
  tx: Tx,
  bucket: string,
  name: string,
): Promise<ObjectRow | undefined> {
  const [row] = await tx<ObjectRow[]>`
    select o.id, o.bucket_id, o.name, o.owner, o.owner_id, o.version, o.metadata,
           o.user_metadata, o.created_at, o.updated_at, o.last_accessed_at
      from storage.objects o
     where o.name = ${name} and o.bucket_id = ${bucket}
     limit 1`
  return row
}

/** The names among `names` the current role can see. */
export async function visibleNames(tx: Tx, bucket: string, names: string[]): Promise<Set<string>> {
  const rows = await tx<{ name: string }[]>`
    select o.name from storage.objects o
     where o.bucket_id = ${bucket} and o.name = any(${names}::text[])`
  return new Set(rows.map((r) => r.name))
}

export interface NewObject {
  id: string
  bucket: string
  name: string
  owner?: string
  version: string
  metadata: FileMetadata
  userMetadata?: Record<string, unknown>
}

function objectValues(tx: Tx, o: NewObject) {
  return {
    id: o.id,
    bucket_id: o.bucket,
    name: o.name,
    owner: o.owner && isUuid(o.owner) ? o.owner : null,
    owner_id: o.owner ?? null,
    version: o.version,
    metadata: tx.json(o.metadata as unknown as postgres.JSONValue),
    user_metadata: tx.json((o.userMetadata ?? {}) as postgres.JSONValue),
  }
}

/**
 * A new object: a plain INSERT, so the role needs only an insert policy (Storage's create path).
 * A taken name raises 23505.
 */
export async function insertObject(tx: Tx, o: NewObject): Promise<void> {
  await tx`insert into storage.objects ${tx(objectValues(tx, o))}`
}

/**
 * Creates or overwrites: INSERT … ON CONFLICT DO UPDATE … RETURNING, Storage's upsert, which
 * under RLS needs the insert, update and select policies. Returns the row's (kept) id.
 */
export async function upsertObject(tx: Tx, o: NewObject): Promise<string> {
  const values = objectValues(tx, o)
  const [row] = await tx<{ id: string }[]>`
    insert into storage.objects ${tx(values)}
    on conflict (name, bucket_id) do update
       set metadata = excluded.metadata,
           user_metadata = excluded.user_metadata,
           version = excluded.version,
           owner = excluded.owner,
           owner_id = excluded.owner_id
    returning id`
  return row.id
}

/**
 * Renames an object's row (Storage's move): an UPDATE … RETURNING, needing the update and
 * select policies. Undefined when no row the role may update matched.
 */
export async function renameObject(
  tx: Tx,
  from: { bucket: string; name: string },
  to: { bucket: string; name: string; owner?: string; version: string },
): Promise<ObjectRow | undefined> {
  const [row] = await tx<ObjectRow[]>`
    update storage.objects o
       set bucket_id = ${to.bucket}, name = ${to.name}, version = ${to.version},
           owner = ${to.owner && isUuid(to.owner) ? to.owner : null},
           owner_id = ${to.owner ?? null}
     where o.bucket_id = ${from.bucket} and o.name = ${from.name}
    returning o.*`
  return row
}

/** Deletes the named objects the role may delete, returning their rows (Storage's remove). */
export function deleteObjects(tx: Tx, bucket: string, names: string[]): Promise<ObjectRow[]> {
  return tx<ObjectRow[]>`
    delete from storage.objects o
     where o.bucket_id = ${bucket} and o.name = any(${names}::text[])
    returning o.id, o.bucket_id, o.name, o.owner, o.owner_id, o.version, o.metadata,
              o.user_metadata, o.created_at, o.updated_at, o.last_accessed_at`
}

/** Every object name in a bucket the role can see (emptying a bucket). */
export async function allNames(tx: Tx, bucket: string): Promise<string[]> {
  const rows = await tx<{ name: string }[]>`
    select o.name from storage.objects o where o.bucket_id = ${bucket}`
  return rows.map((r) => r.name)
}

export interface SearchOptions {
  prefix: string
  limit: number
  offset: number
  search: string
  sortColumn: string
  sortOrder: string
}

export interface ListEntry {
  name: string
  id: string | null
  updated_at: Date | null
  created_at: Date | null
  last_accessed_at: Date | null
  metadata: FileMetadata | null
}

/** One folder level of a bucket through storage.search, as the role sees it. */
export function searchObjects(tx: Tx, bucket: string, o: SearchOptions): Promise<ListEntry[]> {
  return tx<ListEntry[]>`
    select s.name, s.id, s.updated_at, s.created_at, s.last_accessed_at, s.metadata
      from storage.search(prefix => ${o.prefix}, bucketname => ${bucket}, limits => ${o.limit},
                          offsets => ${o.offset}, search => ${o.search},
                          sortcolumn => ${o.sortColumn}, sortorder => ${o.sortOrder}) s`
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)
}
