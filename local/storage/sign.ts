// Signed URLs: a caller who can see an object (their select policy) gets a token for
// `<bucket>/<name>`, a JWT signed with the project's secret, scoped to downloads, that expires
// after expiresIn seconds; anyone holding the URL downloads that object and nothing else until
// then. Storage's routes: POST /object/sign/<bucket>/<name>, POST /object/sign/<bucket> (many),
// GET /object/sign/<bucket>/<name>?token=….
import { SignJWT } from 'jose'
import { jsonResponse } from '../jwt.ts'
import { Fields, readJson } from './body.ts'
import { secretKey, verifyToken } from './caller.ts'
import type { RequestContext } from './context.ts'
import { findObject, SERVICE, visibleNames } from './db.ts'
import { mustBeValidKey } from './disk.ts'
import { ERRORS } from './errors.ts'
import { renderObject } from './read_routes.ts'

const DOWNLOAD_SCOPE = 'download'
/** Storage caps a token's absolute expiry (Postgres' largest timestamp, 9999-12-31). */
const MAX_EXPIRY_SECONDS = 253402300799

function expiresInSeconds(body: Fields): number {
  const expiresIn = body.integer('expiresIn', { min: 1 })!
  if (expiresIn > MAX_EXPIRY_SECONDS - Math.floor(Date.now() / 1000)) {
    throw ERRORS.invalidParameter('expiresIn')
  }
  return expiresIn
}

function signUrl(ctx: RequestContext, url: string, expiresIn: number): Promise<string> {
  return new SignJWT({ url, scope: DOWNLOAD_SCOPE })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(`${expiresIn}s`)
    .sign(secretKey(ctx.deps.jwtSecret))
}

/** POST /object/sign/<bucket>/<name> {expiresIn} → {signedURL}. */
export async function createSignedUrl(
  ctx: RequestContext,
  bucketId: string,
  name: string,
): Promise<Response> {
  const caller = await ctx.caller()
  const expiresIn = expiresInSeconds(new Fields(await readJson(ctx.req)))
  mustBeValidKey(name)
  const row = await ctx.run(caller, (tx) => findObject(tx, bucketId, name))
  if (!row) throw ERRORS.noSuchKey()
  const url = `${bucketId}/${name}`
  const token = await signUrl(ctx, url, expiresIn)
  return jsonResponse(200, { signedURL: `/object/sign/${url}?token=${token}` })
}

/** POST /object/sign/<bucket> {expiresIn, paths} → one {error, path, signedURL} per path. */
export async function createSignedUrls(ctx: RequestContext, bucketId: string): Promise<Response> {
  const caller = await ctx.caller()
  const body = new Fields(await readJson(ctx.req))
  const expiresIn = expiresInSeconds(body)
  const paths = body.strings('paths', { minItems: 1 })!
  const visible = await ctx.run(caller, (tx) => visibleNames(tx, bucketId, paths))
  const signed = await Promise.all(paths.map(async (path) => {
    if (!visible.has(path)) {
      return {
        error: 'Either the object does not exist or you do not have access to it',
        path,
        signedURL: null,
      }
    }
    const url = `${bucketId}/${path}`
    return {
      error: null,
      path,
      signedURL: `/object/sign/${url}?token=${await signUrl(ctx, url, expiresIn)}`,
    }
  }))
  return jsonResponse(200, signed)
}

/** GET /object/sign/<bucket>/<name>?token=…: the object, if the token names exactly it. */
export async function downloadSigned(
  ctx: RequestContext,
  bucketId: string,
  name: string,
): Promise<Response> {
  const token = new URL(ctx.req.url).searchParams.get('token')
  if (token === null) {
    throw ERRORS.invalidRequest("querystring must have required property 'token'")
  }
  const verified = await verifyToken(token, ctx.deps.jwtSecret)
  if ('reason' in verified) throw ERRORS.invalidJwt(verified.reason)
  const { url, scope, exp, upsert } = verified.claims as {
    url?: unknown
    scope?: unknown
    exp?: number
    upsert?: unknown
  }
  // Upload tokens (scoped, or older ones carrying `upsert`) never download.
  if (scope !== DOWNLOAD_SCOPE && (scope !== undefined || upsert !== undefined)) {
    throw ERRORS.invalidSignature(`Token is not scoped for ${DOWNLOAD_SCOPE}`)
  }
  if (url !== `${bucketId}/${name}`) throw ERRORS.invalidSignature()
  mustBeValidKey(name)
  const row = await ctx.run(SERVICE, (tx) => findObject(tx, bucketId, name))
  if (!row) throw ERRORS.noSuchKey()
  return renderObject(ctx, row, { expires: exp ? new Date(exp * 1000) : undefined })
}
