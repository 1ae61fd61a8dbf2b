// `ops token`: an access token for trying the API by hand against the local stack. It is signed
// with the CLI's well-known local secret, so it only means anything to a local stack; a remote
// target is refused rather than handing out a token that project would reject (or, worse, one
// signed with a secret someone reused).
import { SignJWT } from 'jose'
import { LOCAL_JWT_SECRET } from '../local/keys.ts'
import { remoteHosts, type Target, UsageError } from './connection.ts'

export const TOKEN_ROLES = ['authenticated', 'service_role'] as const
export type TokenRole = typeof TOKEN_ROLES[number]

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const TTL_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }

/** `30s`, `15m`, `1h`, `7d` → seconds. */
export function parseTtl(ttl: string): number {
  const m = /^(\d+)([smhd])$/.exec(ttl.trim())
  if (!m || Number(m[1]) <= 0) {
    throw new UsageError(`--ttl must be a positive duration like 30m, 1h or 7d (got ${ttl})`)
  }
  return Number(m[1]) * TTL_UNITS[m[2]]
}

export interface TokenRequest {
  user?: string
  role?: string
  ttl?: string
}

export async function localToken(
  target: Pick<Target, 'dbUrl' | 'apiUrl'>,
  req: TokenRequest,
  now = Math.floor(Date.now() / 1000),
): Promise<{ token: string; sub: string; role: TokenRole; expiresAt: number }> {
  const remote = remoteHosts(target)
  if (remote.length) {
    throw new UsageError(
      `token signs with the local stack's JWT secret and is refused for a remote target ` +
        `(${remote.join(', ')}); unset SUPABASE_DB_URL / SUPABASE_URL, or sign in to that project`,
    )
  }
  if (!req.user || !UUID.test(req.user)) {
    throw new UsageError(`--user must be a user's uuid (got ${req.user ?? 'nothing'})`)
  }
  const role = (req.role ?? 'authenticated') as TokenRole
  if (!TOKEN_ROLES.includes(role)) {
    throw new UsageError(`--role must be one of: ${TOKEN_ROLES.join(', ')} (got ${req.role})`)
  }
  const expiresAt = now + parseTtl(req.ttl ?? '1h')
  const token = await new SignJWT({
    sub: req.user,
    role,
    aud: 'authenticated',
    iat: now,
    exp: expiresAt,
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(LOCAL_JWT_SECRET))
  return { token, sub: req.user, role, expiresAt }
}
