// Verifies Supabase JWTs with jose and guards routes by role (service_role or a signed-in user).
import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors as jose,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
} from 'jose'
import type { MiddlewareHandler } from 'hono'
import { forbidden, unauthorized } from './errors.ts'

/** The claims of a verified Supabase JWT. `role` is what Postgres runs the request as. */
export interface Claims extends JWTPayload {
  role: string
  email?: string
  aal?: string
  session_id?: string
  is_anonymous?: boolean
  app_metadata?: Record<string, unknown>
  user_metadata?: Record<string, unknown>
}

export interface TokenVerifier {
  /** Resolves to the token's claims, or rejects with a 401 HttpError saying why. */
  verify(token: string): Promise<Claims>
}

export interface TokenVerifierOptions {
  /** Project JWT secret for HS256 tokens (legacy keys, and the local stack). */
  jwtSecret?: string
  /** Public keys for asymmetric tokens (Supabase's signing keys: ES256, RS256). */
  jwks?: JSONWebKeySet
  /** Seconds of clock skew tolerated on exp/nbf. Default 5. */
  clockToleranceSeconds?: number
}

// Only these asymmetric algorithms are accepted from JWKS. Listing them (rather than trusting the
// token's header) is what stops algorithm-confusion attacks, and `none` is never among them.
const ASYMMETRIC_ALGORITHMS = ['ES256', 'RS256', 'EdDSA'] as const

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Builds the verifier once per isolate; keys are imported on first use and then cached by jose. */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const { jwtSecret, jwks, clockToleranceSeconds = 5 } = options
  const secret = jwtSecret === undefined ? undefined : new TextEncoder().encode(jwtSecret)
  const keySet = jwks === undefined || jwks.keys.length === 0 ? undefined : createLocalJWKSet(jwks)
  if (secret === undefined && keySet === undefined) {
    throw new Error('createTokenVerifier needs jwtSecret or a non-empty jwks')
  }

  return {
    async verify(token) {
      let alg: string | undefined
      try {
        alg = decodeProtectedHeader(token).alg
      } catch {
        throw unauthorized('Malformed token')
      }
      // exp is checked when present and not required, PostgREST's rule: the same token must get
      // the same answer from an RPC and from a function, and the gateway (local/jwt.ts) applies
      // it too. Only a holder of the project's key can mint a token at all.
      const verifyOptions = { clockTolerance: clockToleranceSeconds }
      let payload: JWTPayload
      try {
        if (alg === 'HS256' && secret !== undefined) {
          payload = (await jwtVerify(token, secret, { ...verifyOptions, algorithms: ['HS256'] }))
            .payload
        } else if (
          keySet !== undefined && (ASYMMETRIC_ALGORITHMS as readonly unknown[]).includes(alg)
        ) {
          payload = (await jwtVerify(token, keySet, {
            ...verifyOptions,
            algorithms: [...ASYMMETRIC_ALGORITHMS],
          })).payload
        } else {
          throw unauthorized(`Unsupported token algorithm: ${String(alg)}`)
        }
      } catch (err) {
        throw toUnauthorized(err)
      }
      if (typeof payload.role !== 'string' || payload.role === '') {
        throw unauthorized('Token has no role claim')
      }
      return payload as Claims
    },
  }
}

// jose's error classes say precisely what failed; callers get the reason, never key material.
function toUnauthorized(err: unknown): unknown {
  if (err instanceof jose.JWTExpired) return unauthorized('Token expired', { cause: err })
  if (err instanceof jose.JWSSignatureVerificationFailed) {
    return unauthorized('Invalid token signature', { cause: err })
  }
  if (err instanceof jose.JWKSNoMatchingKey) {
    return unauthorized('No matching signing key', { cause: err })
  }
  if (err instanceof jose.JWTClaimValidationFailed) {
    return unauthorized(`Invalid token claim: ${err.claim}`, { cause: err })
  }
  if (err instanceof jose.JOSEAlgNotAllowed) {
    return unauthorized('Unsupported token algorithm', { cause: err })
  }
  if (err instanceof jose.JOSEError) return unauthorized('Malformed token', { cause: err })
  return err
}

/** Extracts the token from `Authorization: Bearer <token>`, or throws 401. */
export function bearerToken(header: string | undefined): string {
  if (header === undefined || header.trim() === '') {
    throw unauthorized('Missing Authorization header')
  }
  const match = /^Bearer[ ]+([^\s]+)[ ]*$/i.exec(header)
  if (!match) throw unauthorized('Authorization header must be "Bearer <token>"')
  return match[1]
}

export interface AuthOptions {
  verifier: TokenVerifier
}

/** Variables set by requireServiceRole. */
export type ServiceVars = { claims: Claims }
/** Variables set by requireUser. */
export type UserVars = { claims: Claims; userId: string }

/** Admits only the service_role key (workers, cron, operators); sets `c.var.claims`. */
export function requireServiceRole(
  { verifier }: AuthOptions,
): MiddlewareHandler<{ Variables: ServiceVars }> {
  return async function requireServiceRole(c, next) {
    const claims = await verifier.verify(bearerToken(c.req.header('authorization')))
    if (claims.role !== 'service_role') {
      throw forbidden('This endpoint requires the service_role key')
    }
    c.set('claims', claims)
    await next()
  }
}

/**
 * Admits only a signed-in user; sets `c.var.claims` and `c.var.userId` (the token's `sub`).
 * For user endpoints such as policy-ranker and legacy-migration, which serve the caller's own data.
 */
export function requireUser({ verifier }: AuthOptions): MiddlewareHandler<{ Variables: UserVars }> {
  return async function requireUser(c, next) {
    const claims = await verifier.verify(bearerToken(c.req.header('authorization')))
    // The anon key also verifies, so the role, not a valid signature, is what proves a user.
    if (
      claims.role !== 'authenticated' || typeof claims.sub !== 'string' || !UUID.test(claims.sub)
    ) {
      throw forbidden('This endpoint requires a signed-in user')
    }
    c.set('claims', claims)
    c.set('userId', claims.sub)
    await next()
  }
}
