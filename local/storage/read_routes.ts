// Reading objects: download (GET), HEAD and info on the plain, /authenticated and /public
// routes, and list. A public bucket is read without RLS (as Storage's superuser); a private one
// as the caller, so their select policy decides and a hidden object is "Object not found".
import { jsonResponse } from '../jwt.ts'
import { Fields, readJson } from './body.ts'
import { ANONYMOUS, type Caller } from './caller.ts'
import type { RequestContext } from './context.ts'
import { findBucket, findObject, type ObjectRow, searchObjects, SERVICE } from './db.ts'
import { mustBeValidKey } from './disk.ts'
import { ERRORS } from './errors.ts'

/** Who may read: nobody in particular (public routes), a valid token, or either. */
export type Access = 'public' | 'authenticated' | 'optional'
/** What to answer: the bytes, the headers only, or the info JSON. */
export type Rendering = 'asset' | 'head' | 'info'

export async function readObject(
  ctx: RequestContext,
  bucketId: string,
  name: string,
  access: Access,
  rendering: Rendering,
): Promise<Response> {
  const caller: Caller = access === 'public'
    ? ANONYMOUS
    : await ctx.caller({ allowInvalid: access === 'optional' })
  const bucket = await ctx.run(SERVICE, (tx) => findBucket(tx, bucketId))
  if (!bucket || (!caller.authenticated && !bucket.public)) throw ERRORS.noSuchBucket()
  mustBeValidKey(name)
  const row = await ctx.run(
    bucket.public ? SERVICE : caller,
    (tx) => findObject(tx, bucketId, name),
  )
  if (!row) throw ERRORS.noSuchKey()
  if (rendering === 'info') return infoResponse(row)
  return renderObject(ctx, row, { head: rendering === 'head' })
}

/** Storage's info body: the row's file facts and the uploader's metadata. */
function infoResponse(row: ObjectRow): Response {
  const m = row.metadata
  return jsonResponse(200, {
    id: row.id,
    name: row.name,
    version: row.version,
    bucket_id: row.bucket_id,
    size: m?.size ?? null,
    content_type: m?.mimetype ?? null,
    cache_control: m?.cacheControl ?? null,
    etag: m?.eTag ?? null,
    metadata: row.user_metadata,
    last_modified: row.updated_at,
    created_at: row.created_at,
  }, objectHeaders(row))
}

function objectHeaders(row: ObjectRow): Record<string, string> {
  const m = row.metadata
  const headers: Record<string, string> = {}
  if (m?.eTag) headers['etag'] = m.eTag
  if (m?.lastModified) headers['last-modified'] = new Date(m.lastModified).toUTCString()
  if (m?.cacheControl) headers['cache-control'] = m.cacheControl
  return headers
}

/**
 * The object's bytes (or only its headers) with Storage's headers; `expires` replaces
 * Cache-Control for signed URLs; `?download[=name]` asks the browser to save it.
 */
export async function renderObject(
  ctx: RequestContext,
  row: ObjectRow,
  { head = false, expires }: { head?: boolean; expires?: Date } = {},
): Promise<Response> {
  const headers = new Headers(objectHeaders(row))
  headers.set('accept-ranges', 'bytes')
  headers.set('content-type', row.metadata?.mimetype ?? 'application/octet-stream')
  headers.set('x-robots-tag', 'none')
  if (expires) {
    headers.delete('cache-control')
    headers.set('expires', expires.toUTCString())
  }
  const download = new URL(ctx.req.url).searchParams.get('download')
  if (download !== null) {
    const encoded = encodeURIComponent(download)
    headers.set(
      'content-disposition',
      download === ''
        ? 'attachment;'
        : `attachment; filename=${encoded}; filename*=UTF-8''${encoded}`,
    )
  }
  const eTag = row.metadata?.eTag
  if (eTag && ctx.req.headers.get('if-none-match') === eTag) {
    return new Response(null, { status: 304, headers })
  }
  if (head) {
    if (row.metadata) headers.set('content-length', String(row.metadata.contentLength))
    return new Response(null, { status: 200, headers })
  }
  const { file, size } = await ctx.deps.disk.open(row.bucket_id, row.name)
  headers.set('content-length', String(size))
  return new Response(file.readable, { status: 200, headers })
}

const SORT_COLUMNS = ['name', 'updated_at', 'created_at', 'last_accessed_at'] as const

/** POST /object/list/<bucket>: one folder level under `prefix`, as the caller sees it. */
export async function listObjects(ctx: RequestContext, bucketId: string): Promise<Response> {
  const caller = await ctx.caller()
  const body = new Fields(await readJson(ctx.req))
  let prefix = body.string('prefix')
  const limit = body.integer('limit', { min: 1, optional: true })
  const offset = body.integer('offset', { min: 0, optional: true })
  const search = body.string('search', { optional: true })
  const sortBy = body.object('sortBy')
  sortBy?.string('column') // required once sortBy is given
  const sortColumn = sortBy?.oneOf('column', SORT_COLUMNS)
  const sortOrder = sortBy?.oneOf('order', ['asc', 'desc'] as const)
  // Storage treats a prefix as a folder.
  if (prefix !== '' && !prefix.endsWith('/')) prefix = `${prefix}/`
  const entries = await ctx.run(caller, (tx) =>
    searchObjects(tx, bucketId, {
      prefix,
      limit: limit ?? 100,
      offset: offset ?? 0,
      search: search ?? '',
      sortColumn: sortColumn ?? 'name',
      sortOrder: sortOrder ?? 'asc',
    }))
  return jsonResponse(200, entries)
}
