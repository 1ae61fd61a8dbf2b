// The local stand-in for Supabase Storage at /storage/v1: the object and bucket routes
// supabase-js's storage client uses, over storage.buckets / storage.objects and files on disk.
// Routes are matched as Storage's router does: literal segments (list, move, sign, info,
// public, authenticated) before a bucket name, per method; anything else is Storage's 404.
import {
  createBucketRoute,
  deleteBucketRoute,
  emptyBucketRoute,
  getBucketRoute,
  listBucketsRoute,
  updateBucketRoute,
} from './bucket_routes.ts'
import { RequestContext, type StorageDeps } from './context.ts'
import { errorResponse, ERRORS, StorageError } from './errors.ts'
import { listObjects, readObject } from './read_routes.ts'
import { createSignedUrl, createSignedUrls, downloadSigned } from './sign.ts'
import { uploadObject } from './upload.ts'
import { copyObject, moveObject, removeObject, removeObjects } from './write_routes.ts'

export type { StorageDeps } from './context.ts'

export const STORAGE_PREFIX = '/storage/v1'

type Route = (ctx: RequestContext, ...params: string[]) => Promise<Response>

const notServed: Route = () => {
  throw new StorageError(
    404,
    'InvalidRequest',
    'Signed upload URLs are not served by the local stack',
    'Not Found',
    404,
  )
}

/** Path (after /storage/v1) → method → route; each capture group is one decoded parameter. */
const ROUTES: Array<[RegExp, Record<string, Route>]> = [
  [/^\/bucket\/?$/, { GET: listBucketsRoute, POST: createBucketRoute }],
  [/^\/bucket\/([^/]+)\/empty\/?$/, { POST: emptyBucketRoute }],
  [/^\/bucket\/([^/]+)\/?$/, {
    GET: getBucketRoute,
    PUT: updateBucketRoute,
    DELETE: deleteBucketRoute,
  }],
  [/^\/object\/list\/([^/]+)\/?$/, { POST: listObjects }],
  [/^\/object\/move\/?$/, { POST: moveObject }],
  [/^\/object\/copy\/?$/, { POST: copyObject }],
  [/^\/object\/upload\/sign\//, { POST: notServed, PUT: notServed }],
  [/^\/object\/sign\/([^/]+)\/(.+)$/, { POST: createSignedUrl, GET: downloadSigned }],
  [/^\/object\/sign\/([^/]+)\/?$/, { POST: createSignedUrls }],
  [/^\/object\/info\/public\/([^/]+)\/(.+)$/, {
    GET: (ctx, b, n) => readObject(ctx, b, n, 'public', 'info'),
  }],
  [/^\/object\/info\/authenticated\/([^/]+)\/(.+)$/, {
    GET: (ctx, b, n) => readObject(ctx, b, n, 'authenticated', 'info'),
  }],
  [/^\/object\/info\/([^/]+)\/(.+)$/, {
    GET: (ctx, b, n) => readObject(ctx, b, n, 'optional', 'info'),
  }],
  [/^\/object\/public\/([^/]+)\/(.+)$/, {
    GET: (ctx, b, n) => readObject(ctx, b, n, 'public', 'asset'),
    HEAD: (ctx, b, n) => readObject(ctx, b, n, 'public', 'head'),
  }],
  [/^\/object\/authenticated\/([^/]+)\/(.+)$/, {
    GET: (ctx, b, n) => readObject(ctx, b, n, 'authenticated', 'asset'),
    HEAD: (ctx, b, n) => readObject(ctx, b, n, 'authenticated', 'head'),
  }],
  [/^\/object\/([^/]+)\/(.+)$/, {
    GET: (ctx, b, n) => readObject(ctx, b, n, 'optional', 'asset'),
    HEAD: (ctx, b, n) => readObject(ctx, b, n, 'optional', 'head'),
    POST: (ctx, b, n) =>
      uploadObject(ctx, b, n, { upsert: ctx.req.headers.get('x-upsert') === 'true' }),
    PUT: (ctx, b, n) => uploadObject(ctx, b, n, { upsert: true }),
    DELETE: removeObject,
  }],
  [/^\/object\/([^/]+)\/?$/, { DELETE: removeObjects }],
]

function decodeParams(match: RegExpExecArray): string[] {
  try {
    return match.slice(1).map((p) => decodeURIComponent(p))
  } catch {
    throw ERRORS.invalidRequest('The path is not valid URL encoding')
  }
}

export function createStorageHandler(deps: StorageDeps) {
  return async function storage(req: Request): Promise<Response> {
    const url = new URL(req.url)
    const path = url.pathname.slice(STORAGE_PREFIX.length)
    try {
      for (const [pattern, methods] of ROUTES) {
        const match = pattern.exec(path)
        const route = match && methods[req.method]
        if (route) return await route(new RequestContext(req, deps, path), ...decodeParams(match))
      }
      throw ERRORS.routeNotFound(req.method, `${path}${url.search}`)
    } catch (err) {
      return errorResponse(err, req.method)
    }
  }
}
