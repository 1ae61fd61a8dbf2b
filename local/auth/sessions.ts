// Sessions and refresh tokens as GoTrue keeps them: a sign-in creates an auth.sessions row and
// its first refresh token; a refresh spends its token for a child in the same session; signing
// out deletes sessions, and their refresh tokens with them (foreign key cascade).
import type postgres from 'postgres'
import type { AuthSettings } from '../config.ts'
import { AuthError, badRequest } from './errors.ts'
import { newRefreshToken, signAccessToken } from './tokens.ts'
import { type AuthUser, type Db, findUserById, NIL_UUID } from './users.ts'

/** GoTrue's token answer (what supabase-js turns into a Session). */
export interface TokenResponse {
  access_token: string
  token_type: 'bearer'
  expires_in: number
  expires_at: number
  refresh_token: string
  user: AuthUser
  weak_password?: { message: string; reasons: string[] }
}

export interface SessionContext {
  settings: AuthSettings
  jwtSecret: string
  issuer: string
  userAgent: string | null
  /** Milliseconds since the epoch. */
  now: () => number
}

async function insertRefreshToken(
  db: Db,
  userId: string,
  sessionId: string,
  parent: string | null,
): Promise<string> {
  const token = newRefreshToken()
  await db.unsafe(
    `insert into auth.refresh_tokens (instance_id, token, user_id, revoked, created_at, updated_at,
                                      parent, session_id)
     values ($1::uuid, $2::text, $3::text, false, pg_catalog.now(), pg_catalog.now(), $4::text,
             $5::uuid)`,
    [NIL_UUID, token, userId, parent, sessionId],
  )
  return token
}

async function tokenResponse(
  db: Db,
  userId: string,
  sessionId: string,
  refreshToken: string,
  ctx: SessionContext,
): Promise<TokenResponse> {
  const user = (await findUserById(db, userId))!.json
  const [session] = await db.unsafe<{ signed_in_at: number }[]>(
    `select extract(epoch from s.created_at)::float8 as signed_in_at
       from auth.sessions s where s.id = $1::uuid`,
    [sessionId],
  )
  const now = Math.floor(ctx.now() / 1000)
  const { token, expiresAt } = await signAccessToken({
    user,
    sessionId,
    signedInAt: Math.floor(session.signed_in_at),
    issuer: ctx.issuer,
    expiresIn: ctx.settings.jwtExpiry,
    secret: ctx.jwtSecret,
    now,
  })
  return {
    access_token: token,
    token_type: 'bearer',
    expires_in: expiresAt - now,
    expires_at: expiresAt,
    refresh_token: refreshToken,
    user,
  }
}

/** Signs `userId` in: a new session, its first refresh token, last_sign_in_at. Run in a tx. */
export async function issueSession(
  tx: postgres.TransactionSql,
  userId: string,
  ctx: SessionContext,
): Promise<TokenResponse> {
  const sessionId = crypto.randomUUID()
  await tx.unsafe(
    `insert into auth.sessions (id, user_id, created_at, updated_at, aal, user_agent)
     values ($1::uuid, $2::uuid, pg_catalog.now(), pg_catalog.now(), 'aal1', $3::text)`,
    [sessionId, userId, ctx.userAgent],
  )
  const refreshToken = await insertRefreshToken(tx, userId, sessionId, null)
  await tx.unsafe(
    `update auth.users u set last_sign_in_at = pg_catalog.now() where u.id = $1::uuid`,
    [userId],
  )
  return tokenResponse(tx, userId, sessionId, refreshToken, ctx)
}

interface RefreshTokenRow {
  token: string
  revoked: boolean
  session_id: string | null
  user_id: string | null
  has_session: boolean
  session_expired: boolean
  banned: boolean
  /** Spent longer ago than refresh_token_reuse_interval. */
  reuse_expired: boolean
}

/**
 * The refresh_token grant. The token row is locked for the whole exchange, so two clients
 * refreshing the same token at once are served one after the other: the second finds it spent,
 * with its child active, and gets that child back (GoTrue's answer to a client that lost the
 * first response). A spent token whose child has moved on is reuse: past the reuse interval it
 * revokes the session's tokens, and that revocation is kept although the request fails.
 */
export async function refreshSession(
  sql: postgres.Sql,
  refreshToken: string,
  ctx: SessionContext,
): Promise<TokenResponse> {
  const outcome = await sql.begin(async (tx): Promise<TokenResponse | AuthError> => {
    const [row] = await tx.unsafe<RefreshTokenRow[]>(
      `select rt.token, rt.revoked, rt.session_id::text as session_id, u.id::text as user_id,
              s.id is not null as has_session,
              coalesce(s.not_after < pg_catalog.now(), false) as session_expired,
              coalesce(u.banned_until > pg_catalog.now(), false) as banned,
              rt.updated_at + pg_catalog.make_interval(secs => $2::int) < pg_catalog.now()
                as reuse_expired
         from auth.refresh_tokens rt
         left join auth.sessions s on s.id = rt.session_id
         left join auth.users u on u.id::text = rt.user_id
        where rt.token = $1::text
        for update of rt`,
      [refreshToken, ctx.settings.refreshTokenReuseInterval],
    )
    if (!row || !row.user_id) {
      return badRequest('refresh_token_not_found', 'Invalid Refresh Token: Refresh Token Not Found')
    }
    if (row.banned) return badRequest('user_banned', 'Invalid Refresh Token: User Banned')
    if (!row.has_session) {
      await tx.unsafe(`delete from auth.refresh_tokens rt where rt.token = $1::text`, [row.token])
      return badRequest('session_not_found', 'Invalid Refresh Token: No Valid Session Found')
    }
    if (row.session_expired) {
      return badRequest('session_expired', 'Invalid Refresh Token: Session Expired')
    }
    const sessionId = row.session_id!

    let issued: string | null = null
    if (row.revoked) {
      const [active] = await tx.unsafe<{ token: string; parent: string | null }[]>(
        `select rt.token, rt.parent from auth.refresh_tokens rt
          where rt.session_id = $1::uuid and rt.revoked = false
          order by rt.id desc limit 1`,
        [sessionId],
      )
      if (active && active.parent === row.token) {
        issued = active.token
      } else if (row.reuse_expired) {
        if (ctx.settings.enableRefreshTokenRotation) {
          await tx.unsafe(
            `update auth.refresh_tokens rt set revoked = true, updated_at = pg_catalog.now()
              where rt.session_id = $1::uuid and rt.revoked = false`,
            [sessionId],
          )
        }
        return badRequest('refresh_token_already_used', 'Invalid Refresh Token: Already Used')
      }
    }
    if (issued === null) {
      await tx.unsafe(
        `update auth.refresh_tokens rt set revoked = true, updated_at = pg_catalog.now()
          where rt.token = $1::text`,
        [row.token],
      )
      issued = await insertRefreshToken(tx, row.user_id, sessionId, row.token)
    }
    await tx.unsafe(
      `update auth.sessions s
          set refreshed_at = pg_catalog.timezone('UTC', pg_catalog.now()),
              updated_at = pg_catalog.now()
        where s.id = $1::uuid`,
      [sessionId],
    )
    return tokenResponse(tx, row.user_id, sessionId, issued, ctx)
  })
  if (outcome instanceof AuthError) throw outcome
  return outcome
}

export type LogoutScope = 'global' | 'local' | 'others'

/** Deletes the sessions `scope` names (their refresh tokens cascade). */
export async function logout(
  db: Db,
  userId: string,
  sessionId: string | null,
  scope: LogoutScope,
): Promise<void> {
  if (sessionId && scope === 'local') {
    await db.unsafe(`delete from auth.sessions s where s.id = $1::uuid`, [sessionId])
  } else if (sessionId && scope === 'others') {
    await db.unsafe(
      `delete from auth.sessions s where s.user_id = $1::uuid and s.id <> $2::uuid`,
      [userId, sessionId],
    )
  } else {
    await db.unsafe(`delete from auth.sessions s where s.user_id = $1::uuid`, [userId])
  }
}

/** True when the session an access token names still exists (it is gone after sign-out). */
export async function sessionExists(db: Db, sessionId: string): Promise<boolean> {
  const rows = await db.unsafe(`select 1 from auth.sessions s where s.id = $1::uuid`, [sessionId])
  return rows.length > 0
}
