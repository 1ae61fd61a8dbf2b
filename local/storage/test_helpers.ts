// What the Storage tests share: supabase-js clients for the running test stack (service_role,
// anon, signed-up users), the stack's object folder, and the check that the files on disk and
// the storage.objects rows agree.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { dirname } from 'node:path'
import type postgres from 'postgres'
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { testStackEnv } from '../testing.ts'
import { storageDirOf } from './local.ts'

export const env = testStackEnv()

export function client(key = env.anonKey): SupabaseClient {
  return createClient(env.apiUrl, key, { auth: { persistSession: false, autoRefreshToken: false } })
}

export const serviceClient = () => client(env.serviceRoleKey)

/** A user signed up through the local Auth, with a client holding their session. */
export async function signUp(label: string): Promise<{ id: string; supabase: SupabaseClient }> {
  const supabase = client()
  const email = `${label}-${crypto.randomUUID().slice(0, 8)}@example.test`
  const { data, error } = await supabase.auth.signUp({ email, password: 'TestPass123!' })
  assert.equal(error, null)
  assert.ok(data.session, 'confirmations are off: signup signs in')
  return { id: data.user!.id, supabase }
}

/** The running stack's object folder: `<stack>/storage`, beside Postgres' `<stack>/data`. */
export async function objectRoot(sql: postgres.Sql): Promise<string> {
  const [{ data_directory }] = await sql`select current_setting('data_directory') as data_directory`
  return storageDirOf(dirname(data_directory))
}

/** Relative path → file bytes' quoted MD5 and size, for every file under `dir`. */
async function filesUnder(dir: string, prefix = ''): Promise<Map<string, [string, number]>> {
  const out = new Map<string, [string, number]>()
  try {
    for await (const entry of Deno.readDir(dir)) {
      const rel = prefix ? `${prefix}/${entry.name}` : entry.name
      if (entry.isDirectory) {
        for (const [k, v] of await filesUnder(`${dir}/${entry.name}`, rel)) out.set(k, v)
      } else {
        const bytes = await Deno.readFile(`${dir}/${entry.name}`)
        out.set(rel, [`"${createHash('md5').update(bytes).digest('hex')}"`, bytes.byteLength])
      }
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err
  }
  return out
}

/**
 * Every row of the bucket has its file with the recorded size and ETag, no file lacks a row,
 * and no scratch file is left over from an upload or a removal.
 */
export async function assertDiskMatchesRows(sql: postgres.Sql, bucket: string): Promise<void> {
  const root = await objectRoot(sql)
  const rows = await sql<{ name: string; etag: string; size: number }[]>`
    select name, metadata ->> 'eTag' as etag, (metadata ->> 'size')::int as size
      from storage.objects where bucket_id = ${bucket}`
  const files = await filesUnder(`${root}/${bucket}`)
  assert.deepEqual(
    [...files.keys()].sort(),
    rows.map((r) => r.name).sort(),
    'the files on disk are exactly the rows',
  )
  for (const row of rows) {
    assert.deepEqual(files.get(row.name), [row.etag, row.size], `${row.name}: file and row agree`)
  }
  assert.deepEqual([...(await filesUnder(`${root}.scratch`)).keys()], [], 'no scratch file left')
}

/** A private bucket whose users read and write only under `<their id>/` (Supabase's pattern). */
export async function createOwnFolderBucket(
  sql: postgres.Sql,
  bucket: string,
  options: { fileSizeLimit?: number; allowedMimeTypes?: string[]; commands?: string[] } = {},
): Promise<void> {
  const { error } = await serviceClient().storage.createBucket(bucket, {
    public: false,
    fileSizeLimit: options.fileSizeLimit,
    allowedMimeTypes: options.allowedMimeTypes,
  })
  assert.equal(error, null)
  const own =
    `bucket_id = '${bucket}' and (storage.foldername(name))[1] = (select auth.uid())::text`
  for (const command of options.commands ?? ['select', 'insert', 'update', 'delete']) {
    const check = command === 'insert'
      ? `with check (${own})`
      : command === 'update'
      ? `using (${own}) with check (${own})`
      : `using (${own})`
    await sql.unsafe(
      `create policy "${bucket} own ${command}" on storage.objects for ${command}
         to authenticated ${check}`,
    )
  }
}

/** Drops the bucket's policies (the rows and files go through the API's empty + delete). */
export async function dropBucket(sql: postgres.Sql, bucket: string): Promise<void> {
  const storage = serviceClient().storage
  // A test that failed early may not have created it.
  if (!(await storage.getBucket(bucket)).error) {
    assert.equal((await storage.emptyBucket(bucket)).error, null)
    assert.equal((await storage.deleteBucket(bucket)).error, null)
  }
  const policies = await sql<{ policyname: string }[]>`
    select policyname from pg_catalog.pg_policies
     where schemaname = 'storage' and tablename = 'objects' and policyname like ${bucket + ' %'}`
  for (const { policyname } of policies) {
    await sql.unsafe(`drop policy "${policyname}" on storage.objects`)
  }
}

export const uniqueBucket = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}`
