// Uploads: POST /object/<bucket>/<name> (x-upsert: true overwrites) and PUT (always upserts),
// with a raw body (content-type, cache-control and base64 x-metadata headers) or multipart form
// data (the first file, plus cacheControl / metadata / contentType fields), as supabase-js sends
// them. The bucket's file_size_limit and allowed_mime_types are enforced before the row is
// written; the row is written as the caller, so their insert (and for upserts select + update)
// policies decide.
import { jsonResponse } from '../jwt.ts'
import type { RequestContext } from './context.ts'
import {
  type BucketRow,
  type FileMetadata,
  findBucket,
  insertObject,
  SERVICE,
  upsertObject,
} from './db.ts'
import { mustBeValidKey, removeQuietly, type WrittenFile } from './disk.ts'
import { ERRORS, pgCode } from './errors.ts'
import { parseMultipart } from './multipart.ts'

/** Storage stores a folder placeholder at this name; it must be empty. */
const EMPTY_FOLDER_PLACEHOLDER = '.emptyFolderPlaceholder'
/** Room for a multipart form's boundaries and fields (user metadata may take up to 1 MiB). */
const MULTIPART_OVERHEAD = 2 * 1024 * 1024

interface Upload {
  file: WrittenFile
  mimetype: string
  cacheControl: string
  userMetadata?: Record<string, unknown>
}

export async function uploadObject(
  ctx: RequestContext,
  bucketId: string,
  name: string,
  { upsert }: { upsert: boolean },
): Promise<Response> {
  const caller = await ctx.caller()
  const bucket = await ctx.run(SERVICE, (tx) => findBucket(tx, bucketId))
  if (!bucket) throw ERRORS.noSuchBucket()
  mustBeValidKey(name)
  const upload = await readUpload(ctx, bucket, name)
  try {
    const metadata: FileMetadata = {
      eTag: upload.file.eTag,
      size: upload.file.size,
      mimetype: upload.mimetype,
      cacheControl: upload.cacheControl,
      lastModified: new Date().toISOString(),
      contentLength: upload.file.size,
      httpStatusCode: 200,
    }
    const id = await ctx.write(caller, async (tx, files) => {
      const row = {
        id: crypto.randomUUID(),
        bucket: bucketId,
        name,
        owner: caller.owner,
        version: crypto.randomUUID(),
        metadata,
        userMetadata: upload.userMetadata,
      }
      let id: string = row.id
      if (upsert) id = await upsertObject(tx, row)
      else await insertObject(tx, row)
      await files.place(upload.file.path, bucketId, name)
      return id
    }, [`${bucketId}/${name}`]).catch((err) => {
      throw pgCode(err) === '23505' ? ERRORS.keyAlreadyExists() : err
    })
    return jsonResponse(200, { Id: id, Key: `${bucketId}/${name}` })
  } finally {
    // Gone already when it was placed; a failed upload leaves no scratch file behind.
    await removeQuietly(upload.file.path)
  }
}

async function readUpload(ctx: RequestContext, bucket: BucketRow, name: string): Promise<Upload> {
  const req = ctx.req
  const isPlaceholder = name.endsWith(EMPTY_FOLDER_PLACEHOLDER)
  const limit = isPlaceholder
    ? 0
    : Math.min(ctx.deps.fileSizeLimit, bucket.file_size_limit ?? Infinity)
  const allowed = isPlaceholder ? [] : bucket.allowed_mime_types ?? []
  const contentType = req.headers.get('content-type') ?? ''

  if (contentType.startsWith('multipart/form-data')) {
    // Buffered, so cap it: the file's own limit plus room for the form's fields.
    if (declaredLength(req) > limit + MULTIPART_OVERHEAD) throw ERRORS.entityTooLarge()
    const form = parseMultipart(new Uint8Array(await req.arrayBuffer()), contentType)
    if (!form.file) throw ERRORS.noContent()
    const mimetype = form.fields.get('contentType') || form.file.type || 'application/octet-stream'
    if (allowed.length) validateMimeType(mimetype, allowed)
    const cacheTime = form.fields.get('cacheControl')
    const userMetadata = parseJsonObject(
      form.fields.get('metadata') ?? form.fields.get('userMetadata'),
    )
    return {
      file: await ctx.deps.disk.writeScratch(new Blob([form.file.bytes]).stream(), limit),
      mimetype,
      cacheControl: cacheTime ? `max-age=${cacheTime}` : 'no-cache',
      userMetadata,
    }
  }

  const mimetype = contentType || 'application/octet-stream'
  if (allowed.length) validateMimeType(mimetype, allowed)
  if (declaredLength(req) > limit) throw ERRORS.entityTooLarge()
  const xMetadata = req.headers.get('x-metadata')
  return {
    file: await ctx.deps.disk.writeScratch(req.body, limit),
    mimetype,
    cacheControl: req.headers.get('cache-control') ?? 'no-cache',
    userMetadata: userMetadataHeader(xMetadata),
  }
}

/** The request's Content-Length, or 0 when it sends none. */
function declaredLength(req: Request): number {
  const length = Number(req.headers.get('content-length') ?? 0)
  return Number.isFinite(length) ? length : 0
}

/**
 * Storage's check: the type and subtype must match an allowed entry, or the entry's subtype is
 * `*` ("image/*"). Parameters are not stripped, as Storage does not strip them either.
 */
export function validateMimeType(mimetype: string, allowed: string[]): void {
  const [type, subtype] = mimetype.split('/')
  if (subtype === undefined) throw ERRORS.invalidMimeType(mimetype)
  const ok = allowed.some((entry) => {
    const [allowedType, allowedSubtype] = entry.split('/')
    return allowedType === type && (allowedSubtype === '*' || allowedSubtype === subtype)
  })
  if (!ok) throw ERRORS.invalidMimeType(mimetype)
}

/** The `x-metadata` header: base64 of the user metadata's JSON. */
export function userMetadataHeader(value: string | null): Record<string, unknown> | undefined {
  if (value === null) return undefined
  try {
    return parseJsonObject(
      new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0))),
    )
  } catch {
    return undefined
  }
}

/** User metadata JSON; Storage ignores what does not parse. */
function parseJsonObject(text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined
  try {
    const value = JSON.parse(text)
    return value !== null && typeof value === 'object' ? value : undefined
  } catch {
    return undefined
  }
}
