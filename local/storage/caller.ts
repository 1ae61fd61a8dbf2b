// Who is calling: Storage verifies the bearer JWT itself (the API gateway does not check keys
// on /storage/v1, so public and signed URLs work from a plain <img src>). Most routes need a
// valid token; the plain object routes (download, info, HEAD) take an invalid or missing one as
// an unauthenticated anon caller, who may then read public buckets only.
import { errors as joseErrors, jwtVerify } from 'jose'
import type { Claims } from '../jwt.ts'
import { ERRORS } from './errors.ts'

export interface Caller {
  /** The API role the caller's queries run as: anon, authenticated or service_role. */
  role: string
  claims: Claims
  /** The token's `sub`: recorded as the owner of what the caller writes. */
  owner?: string
  /** False for a missing or invalid token on a route that allows that. */
  authenticated: boolean
}

const BEARER = /^Bearer\s+/i

export const ANONYMOUS: Caller = { role: 'anon', claims: { role: 'anon' }, authenticated: false }

const secretKeys = new Map<string, Uint8Array>()

/** The JWT secret as key bytes, one object per secret (jose caches its imported key by it). */
export function secretKey(jwtSecret: string): Uint8Array {
  let key = secretKeys.get(jwtSecret)
  if (!key) secretKeys.set(jwtSecret, key = new TextEncoder().encode(jwtSecret))
  return key
}

/** The token's claims, or the reason it is not valid (jose's message, as Storage reports it). */
export async function verifyToken(
  token: string,
  jwtSecret: string,
): Promise<{ claims: Claims } | { reason: string }> {
  try {
    const { payload } = await jwtVerify(token, secretKey(jwtSecret), {
      algorithms: ['HS256'],
    })
    return { claims: payload as Claims }
  } catch (err) {
    return { reason: err instanceof joseErrors.JOSEError ? err.message : 'Invalid JWT' }
  }
}

/**
 * The caller of an authenticated route; with `allowInvalid` a missing or invalid token yields
 * the anonymous caller instead of an error.
 */
export async function resolveCaller(
  req: Request,
  jwtSecret: string,
  { allowInvalid = false } = {},
): Promise<Caller> {
  const header = req.headers.get('authorization')
  if (header === null && !allowInvalid) {
    throw ERRORS.invalidRequest("headers must have required property 'authorization'")
  }
  const token = (header ?? '').replace(BEARER, '').trim()
  if (token === '' && allowInvalid) return ANONYMOUS
  const verified = await verifyToken(token, jwtSecret)
  if ('reason' in verified) {
    if (allowInvalid) return ANONYMOUS
    throw ERRORS.accessDenied(verified.reason)
  }
  const { claims } = verified
  return {
    role: typeof claims.role === 'string' && claims.role !== '' ? claims.role : 'anon',
    claims,
    owner: typeof claims.sub === 'string' ? claims.sub : undefined,
    authenticated: true,
  }
}

/** Storage's role check for service-only routes (empty a bucket). */
export function requireServiceRole(caller: Caller): void {
  if (caller.role !== 'service_role') {
    throw ERRORS.accessDenied('Access denied: Invalid role', 403)
  }
}
