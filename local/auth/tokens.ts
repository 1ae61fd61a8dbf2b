// Access tokens with Supabase Auth's claims, signed with the project's JWT secret (HS256, as the
// CLI's local Auth), and the opaque refresh tokens stored in auth.refresh_tokens.
import { SignJWT } from 'jose'
import type { AuthUser } from './users.ts'

export interface AccessTokenInput {
  user: AuthUser
  sessionId: string
  /** When the session signed in (seconds since the epoch): the `amr` entry's timestamp. */
  signedInAt: number
  /** Auth's own URL (`<api>/auth/v1`), the `iss` claim. */
  issuer: string
  expiresIn: number
  secret: string
  /** Seconds since the epoch. */
  now: number
}

/** Signs a session's access token; returns it with its `exp`. */
export async function signAccessToken(
  input: AccessTokenInput,
): Promise<{ token: string; expiresAt: number }> {
  const { user } = input
  const expiresAt = input.now + input.expiresIn
  const token = await new SignJWT({
    iss: input.issuer,
    sub: user.id,
    aud: user.aud,
    exp: expiresAt,
    iat: input.now,
    email: user.email,
    phone: user.phone,
    app_metadata: user.app_metadata,
    user_metadata: user.user_metadata,
    role: user.role,
    aal: 'aal1',
    amr: [{ method: 'password', timestamp: input.signedInAt }],
    session_id: input.sessionId,
    is_anonymous: user.is_anonymous,
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(input.secret))
  return { token, expiresAt }
}

/** `bytes` random bytes as base64url: refresh tokens, and passwords nobody is meant to know. */
export function randomToken(bytes: number): string {
  const random = crypto.getRandomValues(new Uint8Array(bytes))
  return btoa(String.fromCharCode(...random)).replaceAll('+', '-').replaceAll('/', '_')
    .replace(/=+$/, '')
}

/** A fresh refresh token (GoTrue's are opaque strings too). */
export const newRefreshToken = () => randomToken(24)
