// Who may call what: the API gateway's apikey check in front of every Auth route, then GoTrue's
// bearer checks — a signed-in user (with a live session) or an admin key.
import type postgres from 'postgres'
import { bearerToken, type Claims, verifyJwt } from '../jwt.ts'
import type { AuthSettings } from '../config.ts'
import { apiKeyError, AuthError, badRequest, forbidden } from './errors.ts'
import { sessionExists } from './sessions.ts'
import { findUserById, type UserRecord } from './users.ts'
import { isUuid } from './validate.ts'

export interface AuthDeps {
  /** A connection as supabase_auth_admin. */
  sql: postgres.Sql
  jwtSecret: string
  settings: AuthSettings
  /** Milliseconds since the epoch. Default Date.now. */
  now?: () => number
}

/** The keys a project hands out; the gateway lets nothing else through to Auth. */
const API_KEY_ROLES = new Set(['anon', 'service_role'])
/** GoTrue's default admin roles (GOTRUE_JWT_ADMIN_ROLES). */
const ADMIN_ROLES = new Set(['service_role', 'supabase_admin'])

/** The gateway's key check: null when the request carries one of the project's API keys. */
export async function checkApiKey(req: Request, jwtSecret: string): Promise<Response | null> {
  const key = req.headers.get('apikey') ?? new URL(req.url).searchParams.get('apikey')
  if (!key) return apiKeyError('No API key found in request')
  const claims = await verifyJwt(key, jwtSecret)
  if (!claims || !API_KEY_ROLES.has(String(claims.role))) {
    return apiKeyError('Invalid authentication credentials')
  }
  return null
}

async function verifiedClaims(req: Request, jwtSecret: string): Promise<Claims> {
  const token = bearerToken(req)
  if (!token) {
    throw new AuthError(401, 'no_authorization', 'This endpoint requires a valid Bearer token')
  }
  const claims = await verifyJwt(token, jwtSecret)
  if (!claims) {
    throw forbidden('bad_jwt', 'invalid JWT: unable to parse or verify signature')
  }
  return claims
}

export interface SignedIn {
  claims: Claims
  user: UserRecord
  /** The token's session, or null for a token minted without one. */
  sessionId: string | null
}

/** A user's access token whose user and session still exist (GoTrue's requireAuthentication). */
export async function requireUser(req: Request, deps: AuthDeps): Promise<SignedIn> {
  const claims = await verifiedClaims(req, deps.jwtSecret)
  return await loadSignedIn(claims, deps)
}

async function loadSignedIn(claims: Claims, deps: AuthDeps): Promise<SignedIn> {
  const sub = typeof claims.sub === 'string' ? claims.sub : ''
  if (sub === '') throw forbidden('bad_jwt', 'invalid claim: missing sub claim')
  if (!isUuid(sub)) throw badRequest('bad_jwt', 'invalid claim: sub claim must be a UUID')
  const user = await findUserById(deps.sql, sub)
  if (!user) throw forbidden('user_not_found', 'User from sub claim in JWT does not exist')
  const sessionId = typeof claims.session_id === 'string' ? claims.session_id : null
  if (sessionId) {
    if (!isUuid(sessionId)) {
      throw forbidden('bad_jwt', 'invalid claim: session_id claim must be a UUID')
    }
    if (!(await sessionExists(deps.sql, sessionId))) {
      throw forbidden('session_not_found', 'Session from session_id claim in JWT does not exist')
    }
  }
  if (user.banned) throw forbidden('user_banned', 'User is banned')
  return { claims, user, sessionId }
}

/** The service_role key (or another admin role's token, whose session must still exist). */
export async function requireAdmin(req: Request, deps: AuthDeps): Promise<Claims> {
  const claims = await verifiedClaims(req, deps.jwtSecret)
  if (typeof claims.session_id === 'string' && claims.session_id !== '') {
    await loadSignedIn(claims, deps)
  }
  if (!ADMIN_ROLES.has(String(claims.role))) throw forbidden('not_admin', 'User not allowed')
  return claims
}
