// The local Storage through the gateway, driven by the real supabase-js storage client: what a
// Supabase app does with buckets and objects must behave here as on Supabase — storage RLS
// included — and the files on disk must match storage.objects after every request.
import assert from 'node:assert/strict'
import { decodeJwt } from 'jose'
import { adminSql } from '../testing.ts'
import {
  assertDiskMatchesRows,
  client,
  createOwnFolderBucket,
  dropBucket,
  env,
  objectRoot,
  serviceClient,
  signUp,
  uniqueBucket,
} from './test_helpers.ts'

/** What supabase-js reports for a Storage error: HTTP status, Storage's statusCode, message. */
function failure(error: Error | null) {
  assert.ok(error, 'the call failed')
  const e = error as Error & { status?: number; statusCode?: string }
  return { status: e.status, statusCode: e.statusCode, message: e.message }
}

const text = (blob: Blob | null) => blob!.text()

Deno.test('an owner uploads, downloads, reads info, lists, copies, moves, signs and removes under their folder', async () => {
  const sql = adminSql()
  const bucket = uniqueBucket('journey')
  try {
    await createOwnFolderBucket(sql, bucket)
    const { id, supabase } = await signUp('owner')
    const files = supabase.storage.from(bucket)

    const up = await files.upload(`${id}/notes/a.txt`, 'hello storage', {
      contentType: 'text/plain',
      metadata: { kind: 'note' },
    })
    assert.equal(up.error, null)
    assert.equal(up.data!.path, `${id}/notes/a.txt`)
    assert.equal(up.data!.fullPath, `${bucket}/${id}/notes/a.txt`)
    const blob = await files.upload(
      `${id}/pics/p.png`,
      new Blob([new Uint8Array([1, 2, 3])], {
        type: 'image/png',
      }),
    )
    assert.equal(blob.error, null, 'a Blob goes up as multipart form data')
    await assertDiskMatchesRows(sql, bucket)

    const [row] = await sql`
      select id, owner, owner_id, metadata, user_metadata, path_tokens from storage.objects
       where bucket_id = ${bucket} and name = ${`${id}/notes/a.txt`}`
    assert.equal(row.id, up.data!.id)
    assert.equal(row.owner, id)
    assert.equal(row.owner_id, id)
    assert.deepEqual(row.user_metadata, { kind: 'note' })
    assert.deepEqual(row.path_tokens, [id, 'notes', 'a.txt'])
    assert.equal(row.metadata.size, 13)
    assert.equal(row.metadata.mimetype, 'text/plain')
    assert.equal(row.metadata.cacheControl, 'max-age=3600')
    assert.equal(row.metadata.httpStatusCode, 200)

    const down = await files.download(`${id}/notes/a.txt`)
    assert.equal(down.error, null)
    assert.equal(await text(down.data), 'hello storage')
    assert.equal(down.data!.type, 'text/plain')
    const png = await files.download(`${id}/pics/p.png`)
    assert.deepEqual(new Uint8Array(await png.data!.arrayBuffer()), new Uint8Array([1, 2, 3]))
    assert.equal(png.data!.type, 'image/png')

    const info = await files.info(`${id}/notes/a.txt`)
    assert.equal(info.error, null)
    assert.equal(info.data!.size, 13)
    assert.equal(info.data!.contentType, 'text/plain')
    assert.equal(info.data!.etag, row.metadata.eTag)
    assert.deepEqual(info.data!.metadata, { kind: 'note' })
    assert.equal(info.data!.bucketId, bucket)
    assert.equal((await files.exists(`${id}/notes/a.txt`)).data, true)
    assert.equal((await files.exists(`${id}/notes/missing.txt`)).data, false)

    await files.upload(`${id}/notes/b.txt`, 'bb')
    await files.upload(`${id}/notes/c.md`, 'ccc')
    const top = await files.list(id)
    assert.equal(top.error, null)
    assert.deepEqual(top.data!.map((e) => [e.name, e.id === null]), [
      ['notes', true],
      ['pics', true],
    ], 'folders come back once, with a null id')
    const notes = await files.list(`${id}/notes`)
    assert.deepEqual(notes.data!.map((e) => e.name), ['a.txt', 'b.txt', 'c.md'])
    assert.equal(notes.data![0].metadata?.size, 13)
    const paged = await files.list(`${id}/notes`, {
      limit: 1,
      offset: 1,
      sortBy: { column: 'name', order: 'desc' },
    })
    assert.deepEqual(paged.data!.map((e) => e.name), ['b.txt'])
    const searched = await files.list(`${id}/notes`, { search: 'C' })
    assert.deepEqual(searched.data!.map((e) => e.name), ['c.md'], 'search is a name prefix')
    const byDate = await files.list(`${id}/notes`, { sortBy: { column: 'created_at' } })
    assert.deepEqual(byDate.data!.map((e) => e.name), ['a.txt', 'b.txt', 'c.md'])

    const copied = await files.copy(`${id}/notes/a.txt`, `${id}/copies/a.txt`)
    assert.equal(copied.error, null)
    assert.equal(copied.data!.path, `${bucket}/${id}/copies/a.txt`)
    assert.equal(await text((await files.download(`${id}/copies/a.txt`)).data), 'hello storage')
    await assertDiskMatchesRows(sql, bucket)

    const moved = await files.move(`${id}/notes/b.txt`, `${id}/moved/b.txt`)
    assert.equal(moved.error, null)
    assert.equal(moved.data!.message, 'Successfully moved')
    assert.equal(await text((await files.download(`${id}/moved/b.txt`)).data), 'bb')
    assert.equal(failure((await files.download(`${id}/notes/b.txt`)).error).statusCode, '404')
    await assertDiskMatchesRows(sql, bucket)

    const signed = await files.createSignedUrl(`${id}/notes/a.txt`, 60)
    assert.equal(signed.error, null)
    const served = await fetch(signed.data!.signedUrl)
    assert.equal(served.status, 200)
    assert.equal(await served.text(), 'hello storage')
    assert.ok(served.headers.get('expires'), 'a signed download says when its URL expires')
    const many = await files.createSignedUrls([`${id}/notes/a.txt`, `${id}/nope.txt`], 60)
    assert.equal(many.error, null)
    assert.equal(many.data![0].error, null)
    assert.equal(await (await fetch(many.data![0].signedUrl!)).text(), 'hello storage')
    assert.equal(many.data![1].signedUrl, null)
    assert.equal(
      many.data![1].error,
      'Either the object does not exist or you do not have access to it',
    )

    const removed = await files.remove([`${id}/notes/a.txt`, `${id}/moved/b.txt`, `${id}/nope`])
    assert.equal(removed.error, null)
    assert.deepEqual(removed.data!.map((o) => o.name).sort(), [
      `${id}/moved/b.txt`,
      `${id}/notes/a.txt`,
    ], 'remove answers with the rows it deleted')
    assert.equal((await files.exists(`${id}/notes/a.txt`)).data, false)
    await assertDiskMatchesRows(sql, bucket)
    const root = await objectRoot(sql)
    await assert.rejects(Deno.stat(`${root}/${bucket}/${id}/moved`), 'emptied folders are pruned')
  } finally {
    await dropBucket(sql, bucket)
    await sql.end()
  }
})

Deno.test('another user can neither read, list, overwrite, move, copy, sign nor remove what an owner stored', async () => {
  const sql = adminSql()
  const bucket = uniqueBucket('rls')
  try {
    await createOwnFolderBucket(sql, bucket)
    const owner = await signUp('owner')
    const other = await signUp('other')
    const path = `${owner.id}/secret.txt`
    assert.equal((await owner.supabase.storage.from(bucket).upload(path, 'mine')).error, null)
    const theirs = other.supabase.storage.from(bucket)

    // Storage answers HTTP 400 for its errors, with the real status in statusCode.
    const notFound = { status: 400, statusCode: '404', message: 'Object not found' }
    const denied = {
      status: 400,
      statusCode: '403',
      message: 'new row violates row-level security policy',
    }
    assert.deepEqual(failure((await theirs.download(path)).error), notFound)
    assert.deepEqual(failure((await theirs.info(path)).error), notFound)
    assert.equal((await theirs.exists(path)).data, false)
    assert.deepEqual((await theirs.list(owner.id)).data, [])
    assert.deepEqual(failure((await theirs.createSignedUrl(path, 60)).error), notFound)
    assert.deepEqual(failure((await theirs.upload(path, 'overwrite')).error), denied)
    assert.deepEqual(
      failure((await theirs.upload(path, 'overwrite', { upsert: true })).error),
      denied,
    )
    assert.deepEqual(failure((await theirs.update(path, 'overwrite')).error), denied)
    assert.deepEqual(
      failure((await theirs.move(path, `${other.id}/stolen.txt`)).error),
      notFound,
    )
    assert.deepEqual(
      failure((await theirs.copy(path, `${other.id}/stolen.txt`)).error),
      notFound,
    )
    const removed = await theirs.remove([path])
    assert.equal(removed.error, null)
    assert.deepEqual(removed.data, [], 'rows the caller may not delete are skipped')
    const anon = client().storage.from(bucket)
    assert.deepEqual(failure((await anon.download(path)).error), notFound)

    // Their own file cannot be moved or copied into the owner's folder either.
    const own = `${other.id}/own.txt`
    assert.equal((await theirs.upload(own, 'theirs')).error, null)
    assert.deepEqual(failure((await theirs.move(own, `${owner.id}/planted.txt`)).error), denied)
    assert.deepEqual(failure((await theirs.copy(own, `${owner.id}/planted.txt`)).error), denied)

    const kept = await owner.supabase.storage.from(bucket).download(path)
    assert.equal(await text(kept.data), 'mine', 'the owner still has the original')
    await assertDiskMatchesRows(sql, bucket)
  } finally {
    await dropBucket(sql, bucket)
    await sql.end()
  }
})

Deno.test('upload without upsert refuses a taken name; upsert and update overwrite, keeping the row', async () => {
  const sql = adminSql()
  const bucket = uniqueBucket('upsert')
  const dropbox = uniqueBucket('dropbox')
  try {
    await createOwnFolderBucket(sql, bucket)
    const { id, supabase } = await signUp('upserter')
    const files = supabase.storage.from(bucket)
    const path = `${id}/doc.txt`
    const first = await files.upload(path, 'v1')
    assert.equal(first.error, null)
    assert.deepEqual(failure((await files.upload(path, 'v2')).error), {
      status: 400,
      statusCode: '409',
      message: 'The resource already exists',
    })
    assert.equal(await text((await files.download(path)).data), 'v1')

    const second = await files.upload(path, 'v2 longer', { upsert: true })
    assert.equal(second.error, null)
    assert.equal(second.data!.id, first.data!.id, 'an overwrite keeps the row')
    assert.equal(await text((await files.download(path)).data), 'v2 longer')
    const third = await files.update(path, 'v3')
    assert.equal(third.error, null)
    assert.equal(await text((await files.download(path)).data), 'v3')
    const fresh = await files.update(`${id}/new.txt`, 'created by update')
    assert.equal(fresh.error, null, 'update creates a missing object, as Storage does')
    await assertDiskMatchesRows(sql, bucket)

    // Upsert needs the update policy too: with insert + select only, a new name goes up but an
    // existing one cannot be overwritten, and its file is untouched.
    await createOwnFolderBucket(sql, dropbox, { commands: ['select', 'insert'] })
    const box = supabase.storage.from(dropbox)
    assert.equal((await box.upload(`${id}/once.txt`, 'original', { upsert: true })).error, null)
    const refused = failure((await box.upload(`${id}/once.txt`, 'changed', { upsert: true })).error)
    assert.equal(refused.statusCode, '403')
    assert.equal(await text((await box.download(`${id}/once.txt`)).data), 'original')
    await assertDiskMatchesRows(sql, dropbox)
  } finally {
    await dropBucket(sql, bucket)
    await dropBucket(sql, dropbox)
    await sql.end()
  }
})

Deno.test('a signed URL serves its object until it expires; a tampered or foreign token is refused', async () => {
  const sql = adminSql()
  const bucket = uniqueBucket('signed')
  try {
    await createOwnFolderBucket(sql, bucket)
    const { id, supabase } = await signUp('signer')
    const files = supabase.storage.from(bucket)
    await files.upload(`${id}/a.txt`, 'aaa')
    await files.upload(`${id}/b.txt`, 'bbb')
    const { data } = await files.createSignedUrl(`${id}/a.txt`, 1)
    const url = new URL(data!.signedUrl)
    const token = url.searchParams.get('token')!
    const claims = decodeJwt(token)
    assert.equal(claims.url, `${bucket}/${id}/a.txt`)
    assert.equal(claims.scope, 'download')
    assert.equal(claims.exp! - claims.iat!, 1)
    assert.equal((await fetch(url)).status, 200)

    const body = async (res: Response) => ({ status: res.status, ...(await res.json()) })
    const [head, payload, signature] = token.split('.')
    const tampered = new URL(url)
    tampered.searchParams.set('token', `${head}.${payload}.${signature.slice(0, -4)}AAAA`)
    assert.deepEqual(await body(await fetch(tampered)), {
      status: 400,
      statusCode: '400',
      code: 'InvalidJWT',
      error: 'InvalidJWT',
      message: 'signature verification failed',
    })
    const otherObject = new URL(url.href.replace('/a.txt', '/b.txt'))
    const wrongPath = await body(await fetch(otherObject))
    assert.equal(wrongPath.code, 'InvalidSignature', 'a token names exactly one object')
    const userToken = new URL(url)
    userToken.searchParams.set(
      'token',
      (await supabase.auth.getSession()).data.session!.access_token,
    )
    assert.equal((await body(await fetch(userToken))).code, 'InvalidSignature')

    await new Promise((r) => setTimeout(r, 2100))
    assert.deepEqual(await body(await fetch(url)), {
      status: 400,
      statusCode: '400',
      code: 'InvalidJWT',
      error: 'InvalidJWT',
      message: '"exp" claim timestamp check failed',
    })
    assert.equal(failure((await files.createSignedUrl(`${id}/a.txt`, 0)).error).statusCode, '400')
  } finally {
    await dropBucket(sql, bucket)
    await sql.end()
  }
})

Deno.test('a public bucket is read without a token and without policies; a private one is not', async () => {
  const sql = adminSql()
  const open = uniqueBucket('public')
  const closed = uniqueBucket('private')
  try {
    const admin = serviceClient().storage
    assert.equal((await admin.createBucket(open, { public: true })).error, null)
    assert.equal((await admin.createBucket(closed, { public: false })).error, null)
    assert.equal((await admin.from(open).upload('logo.txt', 'public bytes')).error, null)
    assert.equal((await admin.from(closed).upload('logo.txt', 'private bytes')).error, null)

    const publicUrl = client().storage.from(open).getPublicUrl('logo.txt').data.publicUrl
    const plain = await fetch(publicUrl)
    assert.equal(plain.status, 200, 'no apikey, no Authorization')
    assert.equal(await plain.text(), 'public bytes')
    assert.equal(plain.headers.get('cache-control'), 'max-age=3600')
    assert.equal(plain.headers.get('content-length'), '12')
    const anon = client().storage
    assert.equal(await text((await anon.from(open).download('logo.txt')).data), 'public bytes')
    assert.equal((await anon.from(open).info('logo.txt')).data?.size, 12)
    const user = await signUp('reader')
    assert.equal(
      await text((await user.supabase.storage.from(open).download('logo.txt')).data),
      'public bytes',
    )

    const privateUrl = client().storage.from(closed).getPublicUrl('logo.txt').data.publicUrl
    const refused = await fetch(privateUrl)
    assert.equal(refused.status, 400)
    assert.deepEqual(await refused.json(), {
      statusCode: '404',
      code: 'NoSuchBucket',
      error: 'Bucket not found',
      message: 'Bucket not found',
    })
    assert.equal(
      failure((await anon.from(closed).download('logo.txt')).error).statusCode,
      '404',
      'without a policy, a private object is hidden from anon',
    )

    const head = await fetch(`${env.apiUrl}/storage/v1/object/public/${open}/logo.txt`, {
      method: 'HEAD',
    })
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('content-length'), '12')
    assert.ok(head.headers.get('etag'))
    const headPrivate = await fetch(`${env.apiUrl}/storage/v1/object/${closed}/logo.txt`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${env.serviceRoleKey}` },
    })
    assert.equal(headPrivate.status, 200, 'service_role reads private objects')
    const notModified = await fetch(publicUrl, {
      headers: { 'if-none-match': plain.headers.get('etag')! },
    })
    assert.equal(notModified.status, 304)
    await notModified.body?.cancel()
  } finally {
    await dropBucket(sql, open)
    await dropBucket(sql, closed)
    await sql.end()
  }
})

Deno.test('the bucket limits refuse a large file (413) and a wrong type (415), leaving nothing behind', async () => {
  const sql = adminSql()
  const bucket = uniqueBucket('limits')
  try {
    await createOwnFolderBucket(sql, bucket, {
      fileSizeLimit: 1024,
      allowedMimeTypes: ['text/plain', 'image/*'],
    })
    const { id, supabase } = await signUp('limited')
    const files = supabase.storage.from(bucket)
    const plain = { contentType: 'text/plain' }
    assert.equal((await files.upload(`${id}/fits.txt`, 'x'.repeat(1024), plain)).error, null)
    assert.deepEqual(
      failure((await files.upload(`${id}/big.txt`, 'x'.repeat(1025), plain)).error),
      {
        status: 400,
        statusCode: '413',
        message: 'The object exceeded the maximum allowed size',
      },
    )
    const bigBlob = new Blob(['x'.repeat(1025)], { type: 'text/plain' })
    assert.equal(failure((await files.upload(`${id}/big2.txt`, bigBlob)).error).statusCode, '413')
    assert.equal(
      (await files.upload(`${id}/pic.webp`, 'webp', { contentType: 'image/webp' })).error,
      null,
      'image/* allows any image subtype',
    )
    assert.deepEqual(
      failure(
        (await files.upload(`${id}/doc.json`, '{}', { contentType: 'application/json' }))
          .error,
      ),
      { status: 400, statusCode: '415', message: 'mime type application/json is not supported' },
    )
    // Storage compares the whole subtype, parameters included, as its bucket rules allow them.
    assert.equal(
      failure((await files.upload(`${id}/default.txt`, 'supabase-js default type')).error)
        .message,
      'mime type text/plain;charset=UTF-8 is not supported',
    )
    const [{ count }] = await sql`
      select count(*)::int from storage.objects where bucket_id = ${bucket}`
    assert.equal(count, 2)
    await assertDiskMatchesRows(sql, bucket)
  } finally {
    await dropBucket(sql, bucket)
    await sql.end()
  }
})

Deno.test('a write whose transaction fails at commit leaves the previous file and row in place', async () => {
  const sql = adminSql()
  const bucket = uniqueBucket('atomic')
  try {
    await createOwnFolderBucket(sql, bucket)
    // A deferred constraint trigger fails the commit itself, after the file was already put in
    // place inside the transaction: the file step must be undone.
    await sql.unsafe(`
      create function public.test_fail_at_commit() returns trigger language plpgsql
      set search_path = '' as $$
      begin
        if new.name like '%commit-fails%' or new.metadata ->> 'size' = '13' then
          raise exception 'refused at commit';
        end if;
        return null;
      end $$;
      create constraint trigger test_fail_at_commit after insert or update on storage.objects
        deferrable initially deferred for each row execute function public.test_fail_at_commit();`)
    const { id, supabase } = await signUp('atomic')
    const files = supabase.storage.from(bucket)
    assert.equal(
      failure((await files.upload(`${id}/commit-fails.txt`, 'x')).error).statusCode,
      '500',
    )
    assert.equal((await files.upload(`${id}/kept.txt`, 'original')).error, null)
    const overwrite = await files.upload(`${id}/kept.txt`, 'thirteen byte', { upsert: true })
    assert.equal(failure(overwrite.error).statusCode, '500')
    assert.equal(await text((await files.download(`${id}/kept.txt`)).data), 'original')
    assert.equal(
      failure((await files.move(`${id}/kept.txt`, `${id}/commit-fails.txt`)).error).statusCode,
      '500',
    )
    assert.equal(await text((await files.download(`${id}/kept.txt`)).data), 'original')
    await assertDiskMatchesRows(sql, bucket)
  } finally {
    await sql.unsafe(`
      drop trigger if exists test_fail_at_commit on storage.objects;
      drop function if exists public.test_fail_at_commit();`)
    await dropBucket(sql, bucket)
    await sql.end()
  }
})

Deno.test('buckets: service_role creates, reads, lists, updates, empties and deletes; users cannot', async () => {
  const sql = adminSql()
  const bucket = uniqueBucket('buckets')
  try {
    const admin = serviceClient().storage
    const created = await admin.createBucket(bucket, {
      public: false,
      fileSizeLimit: '1MB',
      allowedMimeTypes: ['image/png'],
    })
    assert.equal(created.error, null)
    assert.deepEqual(created.data, { name: bucket })
    assert.equal(failure((await admin.createBucket(bucket)).error).statusCode, '409')
    const got = await admin.getBucket(bucket)
    assert.equal(got.error, null)
    assert.equal(got.data!.file_size_limit, 1_000_000)
    assert.deepEqual(got.data!.allowed_mime_types, ['image/png'])
    assert.equal(got.data!.public, false)
    const listed = await admin.listBuckets({ search: bucket })
    assert.deepEqual(listed.data!.map((b) => [b.id, b.type]), [[bucket, 'STANDARD']])
    const updated = await admin.updateBucket(bucket, { public: true, allowedMimeTypes: null })
    assert.equal(updated.error, null)
    const after = (await admin.getBucket(bucket)).data!
    assert.equal(after.public, true)
    assert.equal(after.allowed_mime_types, null)
    assert.equal(after.file_size_limit, 1_000_000, 'fields not sent are kept')

    const user = await signUp('bucketeer')
    const theirs = user.supabase.storage
    assert.deepEqual(failure((await theirs.createBucket(uniqueBucket('mine'))).error), {
      status: 400,
      statusCode: '403',
      message: 'new row violates row-level security policy',
    })
    assert.equal(failure((await theirs.getBucket(bucket)).error).statusCode, '404')
    assert.deepEqual((await theirs.listBuckets()).data, [])
    assert.deepEqual(failure((await theirs.emptyBucket(bucket)).error), {
      status: 403,
      statusCode: '403',
      message: 'Access denied: Invalid role',
    })
    assert.equal(failure((await admin.createBucket('bad/name')).error).statusCode, '400')

    assert.equal((await admin.from(bucket).upload('a/one.png', 'x')).error, null)
    assert.equal(failure((await admin.deleteBucket(bucket)).error).statusCode, '409')
    assert.equal((await admin.emptyBucket(bucket)).error, null)
    await assertDiskMatchesRows(sql, bucket)
    assert.equal((await admin.deleteBucket(bucket)).error, null)
    assert.equal(failure((await admin.getBucket(bucket)).error).statusCode, '404')
    await assert.rejects(Deno.stat(`${await objectRoot(sql)}/${bucket}`), 'its folder is gone')
  } finally {
    await sql.end()
  }
})

Deno.test('requests Storage cannot serve get its error shape: no token, a bad token, unknown routes', async () => {
  const sql = adminSql()
  const bucket = uniqueBucket('errors')
  try {
    assert.equal((await serviceClient().storage.createBucket(bucket)).error, null)
    const call = async (path: string, init: RequestInit = {}) => {
      const res = await fetch(`${env.apiUrl}/storage/v1${path}`, init)
      return { status: res.status, ...(await res.json()) }
    }
    assert.deepEqual(await call('/bucket'), {
      status: 400,
      statusCode: '400',
      code: 'InvalidRequest',
      error: 'Bad Request',
      message: "headers must have required property 'authorization'",
    })
    assert.deepEqual(await call('/bucket', { headers: { authorization: 'Bearer nonsense' } }), {
      status: 400,
      statusCode: '403',
      code: 'AccessDenied',
      error: 'Unauthorized',
      message: 'Invalid Compact JWS',
    })
    const unknown = await call('/nowhere')
    assert.equal(unknown.status, 404)
    assert.equal(unknown.message, 'Route GET:/nowhere not found')
    const badBody = await call('/object/list/any', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${env.serviceRoleKey}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ prefix: '', limit: 0 }),
    })
    assert.equal(badBody.message, 'body/limit must be >= 1')
    const escape = await call(`/object/${bucket}/..%2F..%2Fescape.txt`, {
      method: 'POST',
      headers: { authorization: `Bearer ${env.serviceRoleKey}`, 'content-type': 'text/plain' },
      body: 'x',
    })
    assert.deepEqual(escape, {
      status: 400,
      statusCode: '400',
      code: 'InvalidKey',
      error: 'InvalidKey',
      message: 'Invalid key: ../../escape.txt',
    })
    const missing = await serviceClient().storage.from(uniqueBucket('none')).upload('a.txt', 'x')
    assert.equal(failure(missing.error).statusCode, '404')
    await assert.rejects(
      sql`delete from storage.objects where false`,
      /Direct deletion from storage tables is not allowed/,
      'plain SQL cannot orphan files',
    )
    await assertDiskMatchesRows(sql, bucket)
  } finally {
    await dropBucket(sql, bucket)
    await sql.end()
  }
})

Deno.test('the routes supabase-js leaves to plain HTTP: authenticated and public reads, info, single delete', async () => {
  const sql = adminSql()
  const bucket = uniqueBucket('plain')
  try {
    await createOwnFolderBucket(sql, bucket)
    const owner = await signUp('plain')
    const other = await signUp('intruder')
    const path = `${owner.id}/file.txt`
    assert.equal((await owner.supabase.storage.from(bucket).upload(path, 'plain http')).error, null)
    const tokenOf = async (s: typeof owner) =>
      (await s.supabase.auth.getSession()).data.session!.access_token
    const call = (route: string, method: string, token?: string) =>
      fetch(`${env.apiUrl}/storage/v1/object/${route}`, {
        method,
        headers: token ? { authorization: `Bearer ${token}` } : {},
      })

    const got = await call(`authenticated/${bucket}/${path}`, 'GET', await tokenOf(owner))
    assert.equal(got.status, 200)
    assert.equal(await got.text(), 'plain http')
    const head = await call(`authenticated/${bucket}/${path}`, 'HEAD', await tokenOf(owner))
    assert.equal(head.status, 200)
    assert.equal(head.headers.get('content-length'), '10')
    const info = await call(`info/authenticated/${bucket}/${path}`, 'GET', await tokenOf(owner))
    assert.equal((await info.json()).size, 10)
    const noToken = await call(`authenticated/${bucket}/${path}`, 'GET')
    assert.equal(noToken.status, 400)
    assert.equal((await noToken.json()).statusCode, '400')
    const publicInfo = await call(`info/public/${bucket}/${path}`, 'GET')
    assert.equal((await publicInfo.json()).code, 'NoSuchBucket', 'the bucket is private')
    const theirs = await call(`authenticated/${bucket}/${path}`, 'GET', await tokenOf(other))
    assert.equal((await theirs.json()).code, 'NoSuchKey')

    const refused = await call(`${bucket}/${path}`, 'DELETE', await tokenOf(other))
    assert.deepEqual(await refused.json(), {
      statusCode: '403',
      code: 'AccessDenied',
      error: 'Unauthorized',
      message: 'Access denied',
    })
    const deleted = await call(`${bucket}/${path}`, 'DELETE', await tokenOf(owner))
    assert.deepEqual(await deleted.json(), { message: 'Successfully deleted' })
    const gone = await call(`${bucket}/${path}`, 'DELETE', await tokenOf(owner))
    assert.equal((await gone.json()).code, 'NoSuchKey')
    await assertDiskMatchesRows(sql, bucket)

    const signedUpload = await call(`upload/sign/${bucket}/${path}`, 'POST', env.serviceRoleKey)
    assert.equal(signedUpload.status, 404)
    await signedUpload.body?.cancel()
  } finally {
    await dropBucket(sql, bucket)
    await sql.end()
  }
})

Deno.test('copy and move work across buckets, and a copy with x-upsert replaces its target', async () => {
  const sql = adminSql()
  const from = uniqueBucket('from')
  const to = uniqueBucket('to')
  try {
    const admin = serviceClient().storage
    assert.equal((await admin.createBucket(from)).error, null)
    assert.equal((await admin.createBucket(to)).error, null)
    await admin.from(from).upload('one.txt', 'one')
    await admin.from(from).upload('two.txt', 'two')
    await admin.from(to).upload('taken.txt', 'old')
    const copied = await admin.from(from).copy('one.txt', 'copy.txt', { destinationBucket: to })
    assert.equal(copied.error, null)
    assert.equal(copied.data!.path, `${to}/copy.txt`)
    const clash = await admin.from(from).copy('one.txt', 'taken.txt', { destinationBucket: to })
    assert.equal(failure(clash.error).statusCode, '409')
    const replaced = await fetch(`${env.apiUrl}/storage/v1/object/copy`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${env.serviceRoleKey}`,
        'content-type': 'application/json',
        'x-upsert': 'true',
      },
      body: JSON.stringify({
        bucketId: from,
        sourceKey: 'two.txt',
        destinationBucket: to,
        destinationKey: 'taken.txt',
      }),
    })
    assert.equal(replaced.status, 200)
    assert.equal((await replaced.json()).Key, `${to}/taken.txt`)
    assert.equal(await text((await admin.from(to).download('taken.txt')).data), 'two')
    const moved = await admin.from(from).move('two.txt', 'moved.txt', { destinationBucket: to })
    assert.equal(moved.error, null)
    assert.equal(await text((await admin.from(to).download('moved.txt')).data), 'two')
    const clashMove = await admin.from(from).move('one.txt', 'moved.txt', { destinationBucket: to })
    assert.deepEqual(failure(clashMove.error), {
      status: 400,
      statusCode: '409',
      message: 'The resource already exists',
    })
    await assertDiskMatchesRows(sql, from)
    await assertDiskMatchesRows(sql, to)
  } finally {
    await dropBucket(sql, from)
    await dropBucket(sql, to)
    await sql.end()
  }
})

Deno.test("storage.foldername, filename and extension split a path as Supabase's do", async () => {
  const sql = adminSql()
  try {
    const [row] = await sql`
      select storage.foldername('a/b/c.tar.gz') as folders,
             storage.foldername('top.png') as no_folder,
             storage.filename('a/b/c.tar.gz') as file,
             storage.extension('a/b/c.tar.gz') as ext,
             storage.extension('a/README') as no_ext`
    assert.deepEqual(row, {
      folders: ['a', 'b'],
      no_folder: [],
      file: 'c.tar.gz',
      ext: 'gz',
      no_ext: 'README',
    })
  } finally {
    await sql.end()
  }
})
