// `supabase seed buckets`, which `supabase start` and `db reset` run too: every
// `[storage.buckets.<name>]` in config.toml is created (or its properties updated), then every
// regular file under its objects_path is uploaded with upsert, named by its path relative to
// objects_path. Like the CLI, it goes through the Storage API with the service_role key.
import { createClient } from '@supabase/supabase-js'
import { extname, relative } from 'node:path'
import type { BucketSeed, StorageSettings } from './settings.ts'

export interface SeedTarget {
  apiUrl: string
  serviceRoleKey: string
}

/** The CLI uploads five files at a time. */
const CONCURRENCY = 5

export async function seedBuckets(
  settings: StorageSettings,
  target: SeedTarget,
  log: (line: string) => void,
): Promise<void> {
  if (!settings.enabled || settings.buckets.length === 0) return
  const storage = createClient(target.apiUrl, target.serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  }).storage
  const listed = await storage.listBuckets()
  if (listed.error) throw new Error(`seed buckets: listing buckets: ${listed.error.message}`)
  const existing = new Set(listed.data.map((b) => b.name))
  for (const bucket of settings.buckets) {
    const options = {
      fileSizeLimit: bucket.fileSizeLimit,
      allowedMimeTypes: bucket.allowedMimeTypes,
    }
    const { error } = existing.has(bucket.name)
      // An unset `public` is left out of the request, so the bucket keeps its setting.
      ? await storage.updateBucket(bucket.name, { ...options, public: bucket.public as boolean })
      : await storage.createBucket(bucket.name, { ...options, public: bucket.public ?? false })
    if (error) throw new Error(`seed buckets: bucket ${bucket.name}: ${error.message}`)
    log(`seed buckets: ${existing.has(bucket.name) ? 'updated' : 'created'} ${bucket.name}`)
  }
  for (const bucket of settings.buckets) {
    if (!bucket.objectsPath) continue
    const files = await regularFiles(bucket.objectsPath)
    let next = 0
    const worker = async () => {
      while (next < files.length) {
        const file = files[next++]
        await uploadFile(storage, bucket, file)
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    log(`seed buckets: uploaded ${files.length} file(s) to ${bucket.name}`)
  }
}

type StorageClient = ReturnType<typeof createClient>['storage']

async function uploadFile(storage: StorageClient, bucket: BucketSeed, file: string) {
  const bytes = await Deno.readFile(file)
  const name = relative(bucket.objectsPath!, file)
  const { error } = await storage.from(bucket.name).upload(name, bytes, {
    upsert: true,
    contentType: contentTypeOf(bytes, file),
    cacheControl: '3600',
  })
  if (error) throw new Error(`seed buckets: uploading ${file} to ${bucket.name}: ${error.message}`)
}

/** Every regular file under `dir` (symlinks skipped, as the CLI's walk does), sorted. */
async function regularFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory) out.push(...await regularFiles(path))
      else if (entry.isFile) out.push(path)
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) {
      throw new Error(`seed buckets: objects_path ${dir} does not exist`)
    }
    throw err
  }
  return out.sort()
}

/** Types the CLI's sniffing recognises by their first bytes. */
const MAGIC: Array<[number[], string]> = [
  [[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'image/png'],
  [[0xff, 0xd8, 0xff], 'image/jpeg'],
  [[0x47, 0x49, 0x46, 0x38], 'image/gif'],
  [[0x25, 0x50, 0x44, 0x46, 0x2d], 'application/pdf'],
]

/** For text, the CLI prefers the type the file extension names. */
const TEXT_BY_EXTENSION: Record<string, string> = {
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.html': 'text/html; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
}

/** The upload's content type, detected from the bytes as the CLI does (Go's sniffing, roughly). */
export function contentTypeOf(bytes: Uint8Array, path: string): string {
  for (const [magic, type] of MAGIC) {
    if (magic.every((b, i) => bytes[i] === b)) return type
  }
  const isWebp = String.fromCharCode(...bytes.subarray(0, 4)) === 'RIFF' &&
    String.fromCharCode(...bytes.subarray(8, 12)) === 'WEBP'
  if (isWebp) return 'image/webp'
  const head = bytes.subarray(0, 512)
  const binary = head.some((b) => b < 0x09 || (b > 0x0d && b < 0x20 && b !== 0x1b))
  if (binary) return 'application/octet-stream'
  return TEXT_BY_EXTENSION[extname(path).toLowerCase()] ?? 'text/plain; charset=utf-8'
}
