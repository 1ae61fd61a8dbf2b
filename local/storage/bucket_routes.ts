// Buckets: list, get, create, update, delete (empty buckets only) and empty (service_role). They
// run as the caller like object routes: storage.buckets has RLS and no policies, so in practice
// the service_role key manages buckets and a user's token sees none, as on Supabase.
import { jsonResponse } from '../jwt.ts'
import { type Body, Fields, readJson } from './body.ts'
import { requireServiceRole } from './caller.ts'
import type { RequestContext } from './context.ts'
import {
  allNames,
  type BucketFields,
  bucketHasObjects,
  type BucketListOptions,
  type BucketRow,
  deleteBucket,
  findBucket,
  insertBucket,
  listBuckets,
  SERVICE,
  switchRole,
  updateBucket,
} from './db.ts'
import { mustBeValidBucketName } from './disk.ts'
import { ERRORS, pgCode } from './errors.ts'
import { removeNames } from './write_routes.ts'

const SORT_COLUMNS = ['id', 'name', 'created_at', 'updated_at'] as const

/** A bucket as GET /bucket/<id> shows it (the list adds `type`). */
function bucketView({ type: _type, ...bucket }: BucketRow) {
  return bucket
}

/** GET /bucket?limit&offset&search&sortColumn&sortOrder */
export async function listBucketsRoute(ctx: RequestContext): Promise<Response> {
  const caller = await ctx.caller()
  const q = new URL(ctx.req.url).searchParams
  const int = (key: string) => {
    const v = q.get(key)
    if (v === null) return undefined
    if (!/^\d+$/.test(v)) throw ERRORS.invalidRequest(`querystring/${key} must be integer`)
    return Number(v)
  }
  const oneOf = <T extends string>(key: string, allowed: readonly T[]) => {
    const v = q.get(key)
    if (v === null) return undefined
    if (!allowed.includes(v as T)) {
      throw ERRORS.invalidRequest(`querystring/${key} must be equal to one of the allowed values`)
    }
    return v as T
  }
  const options: BucketListOptions = {
    limit: int('limit'),
    offset: int('offset'),
    search: q.get('search') ?? undefined,
    sortColumn: oneOf('sortColumn', SORT_COLUMNS),
    sortOrder: oneOf('sortOrder', ['asc', 'desc'] as const),
  }
  return jsonResponse(200, await ctx.run(caller, (tx) => listBuckets(tx, options)))
}

/** GET /bucket/<id> */
export async function getBucketRoute(ctx: RequestContext, id: string): Promise<Response> {
  const caller = await ctx.caller()
  const bucket = await ctx.run(caller, (tx) => findBucket(tx, id))
  if (!bucket) throw ERRORS.noSuchBucket()
  return jsonResponse(200, bucketView(bucket))
}

/** Storage's bucket size format: bytes, or "20GB" / "20MB" / "30KB" / "3B" (decimal units). */
function parseBucketSize(value: unknown, globalLimit: number): number | null | undefined {
  if (value === undefined || value === null) return value
  let bytes: number
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) bytes = value
  else if (typeof value === 'string') {
    const m = /^([0-9]+(?:\.[0-9]+)?)(gb|mb|kb|b)$/i.exec(value)
    if (!m) throw ERRORS.invalidFileSizeLimit()
    const unit = { gb: 1e9, mb: 1e6, kb: 1e3, b: 1 }[m[2].toLowerCase() as 'gb' | 'mb' | 'kb' | 'b']
    bytes = Math.round(Number(Number(m[1]).toPrecision(3)) * unit)
  } else {
    throw ERRORS.invalidRequest('body/file_size_limit must be integer,string,null')
  }
  if (bytes > globalLimit) throw ERRORS.entityTooLarge()
  return bytes
}

const MIME_TYPE = /^([a-zA-Z0-9\-+.]+)\/([a-zA-Z0-9\-+.]+)(;\s*charset=[a-zA-Z0-9\-]+)?$|\*$/

function bucketFields(ctx: RequestContext, raw: Body): BucketFields {
  const body = new Fields(raw)
  const mimes = body.strings('allowed_mime_types', { nullable: true })
  for (const mime of mimes ?? []) {
    if (mime.length > 1000 || !MIME_TYPE.test(mime)) throw ERRORS.invalidMimeType(mime)
  }
  return {
    public: body.boolean('public'),
    file_size_limit: parseBucketSize(raw.file_size_limit, ctx.deps.fileSizeLimit),
    // Storage drops empty entries.
    allowed_mime_types: mimes ? mimes.filter((m) => m) : mimes,
  }
}

/** POST /bucket {name, id?, public?, file_size_limit?, allowed_mime_types?} → {name}. */
export async function createBucketRoute(ctx: RequestContext): Promise<Response> {
  const caller = await ctx.caller()
  const raw = await readJson(ctx.req)
  const body = new Fields(raw)
  const name = body.string('name')
  const id = body.string('id', { optional: true }) || name
  mustBeValidBucketName(name)
  mustBeValidBucketName(id)
  const fields = bucketFields(ctx, raw)
  await ctx.run(caller, (tx) => insertBucket(tx, { ...fields, id, name, owner: caller.owner }))
    .catch((err) => {
      throw pgCode(err) === '23505' ? ERRORS.bucketAlreadyExists() : err
    })
  return jsonResponse(200, { name })
}

/** PUT /bucket/<id> {public?, file_size_limit?, allowed_mime_types?}. */
export async function updateBucketRoute(ctx: RequestContext, id: string): Promise<Response> {
  const caller = await ctx.caller()
  const fields = bucketFields(ctx, await readJson(ctx.req))
  if (!(await ctx.run(caller, (tx) => updateBucket(tx, id, fields)))) throw ERRORS.noSuchBucket()
  return jsonResponse(200, { message: 'Successfully updated' })
}

/** DELETE /bucket/<id>: only an empty bucket goes (409 otherwise), with its folder on disk. */
export async function deleteBucketRoute(ctx: RequestContext, id: string): Promise<Response> {
  const caller = await ctx.caller()
  await ctx.run(caller, async (tx) => {
    await switchRole(tx, SERVICE.role)
    if (!(await findBucket(tx, id))) throw ERRORS.noSuchBucket()
    if (await bucketHasObjects(tx, id)) throw ERRORS.bucketNotEmpty()
    await switchRole(tx, caller.role)
    if (!(await deleteBucket(tx, id))) throw ERRORS.noSuchBucket()
  })
  // Its folder is empty (removals prune emptied folders); a stray file keeps it, harmlessly.
  await Deno.remove(ctx.deps.disk.bucketPath(id)).catch(() => {})
  return jsonResponse(200, { message: 'Successfully deleted' })
}

/** POST /bucket/<id>/empty (service_role): removes every object of the bucket and its file. */
export async function emptyBucketRoute(ctx: RequestContext, id: string): Promise<Response> {
  const caller = await ctx.caller()
  requireServiceRole(caller)
  await ctx.write(caller, async (tx, files) => {
    if (!(await findBucket(tx, id))) throw ERRORS.noSuchBucket()
    await removeNames(tx, files, id, await allNames(tx, id))
  })
  return jsonResponse(200, { message: 'Successfully emptied' })
}
