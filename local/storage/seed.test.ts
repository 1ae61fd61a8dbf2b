// config.toml's [storage] blocks and `supabase seed buckets` against the running test stack.
import assert from 'node:assert/strict'
import { loadProjectConfig } from '../config.ts'
import { SUPABASE_DIR } from '../paths.ts'
import { adminSql } from '../testing.ts'
import { seedBuckets } from './seed.ts'
import { DEFAULT_FILE_SIZE_LIMIT, parseSize, parseStorageSettings } from './settings.ts'
import {
  assertDiskMatchesRows,
  dropBucket,
  env,
  serviceClient,
  uniqueBucket,
} from './test_helpers.ts'

Deno.test('[storage] sizes read as the CLI reads them, objects_path resolves against supabase/', () => {
  assert.equal(parseSize('50MiB'), 50 * 1024 * 1024)
  assert.equal(parseSize('5MB'), 5 * 1024 * 1024, 'the CLI counts MB in binary units too')
  assert.equal(parseSize('512kB'), 512 * 1024)
  assert.equal(parseSize('1.5GiB'), 1.5 * 1024 ** 3)
  assert.equal(parseSize(2048), 2048)
  assert.equal(parseSize('lots'), null)

  const parsed = parseStorageSettings({
    file_size_limit: '10MiB',
    buckets: {
      images: {
        public: true,
        file_size_limit: '1MiB',
        allowed_mime_types: ['image/png'],
        objects_path: './images',
      },
      bare: {},
    },
  })
  assert.equal(parsed.enabled, true)
  assert.equal(parsed.fileSizeLimit, 10 * 1024 * 1024)
  assert.deepEqual(parsed.buckets, [
    {
      name: 'images',
      public: true,
      fileSizeLimit: 1024 * 1024,
      allowedMimeTypes: ['image/png'],
      objectsPath: `${SUPABASE_DIR}/images`,
    },
    {
      name: 'bare',
      public: undefined,
      fileSizeLimit: undefined,
      allowedMimeTypes: undefined,
      objectsPath: undefined,
    },
  ])
  assert.equal(parseStorageSettings({}).fileSizeLimit, DEFAULT_FILE_SIZE_LIMIT)
  assert.throws(
    () => parseStorageSettings({ buckets: { x: { file_size_limit: 'huge' } } }),
    /\[storage\.buckets\.x\] file_size_limit must be a size such as "50MiB"/,
  )
  assert.throws(
    () => parseStorageSettings({ buckets: { x: { public: 'yes' } } }),
    /\[storage\.buckets\.x\] public must be true or false/,
  )
  assert.throws(
    () => parseStorageSettings({ buckets: { x: { allowed_mime_types: 'image/png' } } }),
    /\[storage\.buckets\.x\] allowed_mime_types must be a list of strings/,
  )
})

Deno.test('the project config.toml keeps Storage on', async () => {
  const { storage } = await loadProjectConfig()
  assert.equal(storage.enabled, true)
})

Deno.test('seeding creates the bucket, uploads every file by its relative path, and reruns as upserts', async () => {
  const sql = adminSql()
  const bucket = uniqueBucket('seeded')
  const dir = await Deno.makeTempDir({ prefix: 'storage-seed-' })
  const lines: string[] = []
  try {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0])
    await Deno.writeFile(`${dir}/a.png`, png)
    await Deno.mkdir(`${dir}/nested/deeper`, { recursive: true })
    await Deno.writeTextFile(`${dir}/nested/b.txt`, 'bee')
    await Deno.writeTextFile(`${dir}/nested/deeper/c.json`, '{"c":1}')
    await Deno.symlink(`${dir}/nested/b.txt`, `${dir}/link.txt`)
    const settings = (isPublic: boolean) => ({
      enabled: true,
      fileSizeLimit: DEFAULT_FILE_SIZE_LIMIT,
      buckets: [{ name: bucket, public: isPublic, fileSizeLimit: 1024 * 1024, objectsPath: dir }],
    })
    const target = { apiUrl: env.apiUrl, serviceRoleKey: env.serviceRoleKey }
    await seedBuckets(settings(true), target, (line) => lines.push(line))
    assert.ok(lines.includes(`seed buckets: created ${bucket}`))

    const storage = serviceClient().storage
    const got = (await storage.getBucket(bucket)).data!
    assert.equal(got.public, true)
    assert.equal(got.file_size_limit, 1024 * 1024)
    const rows = await sql<{ name: string; mimetype: string; cache: string }[]>`
      select name, metadata ->> 'mimetype' as mimetype, metadata ->> 'cacheControl' as cache
        from storage.objects where bucket_id = ${bucket} order by name`
    assert.deepEqual([...rows], [
      { name: 'a.png', mimetype: 'image/png', cache: 'max-age=3600' },
      { name: 'nested/b.txt', mimetype: 'text/plain; charset=utf-8', cache: 'max-age=3600' },
      { name: 'nested/deeper/c.json', mimetype: 'application/json', cache: 'max-age=3600' },
    ], 'symlinks are skipped, as the CLI walks regular files only')
    await assertDiskMatchesRows(sql, bucket)

    await Deno.writeTextFile(`${dir}/nested/b.txt`, 'bee, edited')
    await seedBuckets(settings(false), target, (line) => lines.push(line))
    assert.ok(lines.includes(`seed buckets: updated ${bucket}`))
    assert.equal((await storage.getBucket(bucket)).data!.public, false)
    const edited = await storage.from(bucket).download('nested/b.txt')
    assert.equal(await edited.data!.text(), 'bee, edited')
    await assertDiskMatchesRows(sql, bucket)

    await assert.rejects(
      seedBuckets(
        { ...settings(false), buckets: [{ name: bucket, objectsPath: `${dir}/missing` }] },
        target,
        () => {},
      ),
      /objects_path .*\/missing does not exist/,
    )
  } finally {
    await Deno.remove(dir, { recursive: true })
    await dropBucket(sql, bucket)
    await sql.end()
  }
})
