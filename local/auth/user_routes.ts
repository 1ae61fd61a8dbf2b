// The routes supabase-js's auth client calls for email + password: signup, the password and
// refresh_token grants, the signed-in user (read, update) and logout.
import { jsonResponse } from '../jwt.ts'
import { objectField, optionalStringField, readBody, stringField } from './body.ts'
import { badRequest, forbidden, OAuthError, unprocessable } from './errors.ts'
import { type AuthDeps, requireUser } from './guards.ts'
import {
  issueSession,
  logout,
  type LogoutScope,
  refreshSession,
  type SessionContext,
} from './sessions.ts'
import {
  AUDIENCE,
  type AuthUser,
  EMAIL_APP_METADATA,
  findUserByEmail,
  insertUser,
  passwordMatches,
  updateUser,
} from './users.ts'
import { checkPasswordStrength, passwordWeakness, validateEmail } from './validate.ts'

const INVALID_LOGIN = 'Invalid login credentials'
const UNIQUE_VIOLATION = '23505'

function sessionContext(req: Request, deps: AuthDeps): SessionContext {
  return {
    settings: deps.settings,
    jwtSecret: deps.jwtSecret,
    issuer: `${new URL(req.url).origin}/auth/v1`,
    userAgent: req.headers.get('user-agent'),
    now: deps.now ?? Date.now,
  }
}

export async function signup(req: Request, deps: AuthDeps): Promise<Response> {
  const { settings } = deps
  if (!settings.enableSignup) {
    throw unprocessable('signup_disabled', 'Signups not allowed for this instance')
  }
  const body = await readBody(req)
  const rawEmail = stringField(body, 'email')
  const phone = stringField(body, 'phone')
  const password = stringField(body, 'password')
  const data = objectField(body, 'data') ?? {}
  if (rawEmail === '' && phone === '') {
    throw unprocessable('anonymous_provider_disabled', 'Anonymous sign-ins are disabled')
  }
  if (password === '') throw badRequest('validation_failed', 'Signup requires a valid password')
  checkPasswordStrength(password, settings.minimumPasswordLength)
  if (rawEmail !== '' && phone !== '') {
    throw badRequest(
      'validation_failed',
      'Only an email address or phone number should be provided on signup.',
    )
  }
  // Only email + password is served locally (as with [auth.sms] enable_signup = false).
  if (phone !== '') throw badRequest('phone_provider_disabled', 'Phone signups are disabled')
  if (!settings.emailEnabled) {
    throw badRequest('email_provider_disabled', 'Email signups are disabled')
  }
  const email = validateEmail(rawEmail)
  const confirmed = !settings.enableConfirmations

  try {
    const answer = await deps.sql.begin(async (tx) => {
      const existing = await findUserByEmail(tx, email)
      if (existing) {
        if (!existing.confirmed) return existing.json // GoTrue would mail the link again
        if (confirmed) throw unprocessable('user_already_exists', 'User already registered')
        // With confirmations on, GoTrue does not reveal that the address is taken.
        return lookalikeUser(email, data, (deps.now ?? Date.now)())
      }
      const id = crypto.randomUUID()
      // GoTrue's email identity carries the signup data; the user's metadata starts as a copy.
      const identityData = {
        ...data,
        sub: id,
        email,
        email_verified: false,
        phone_verified: false,
      }
      await insertUser(tx, {
        id,
        email,
        password,
        confirmed,
        confirmationSent: !confirmed,
        role: AUDIENCE,
        appMetadata: EMAIL_APP_METADATA,
        userMetadata: confirmed ? { ...identityData, email_verified: true } : identityData,
        identityData,
      })
      if (!confirmed) return (await findUserByEmail(tx, email))!.json
      return await issueSession(tx, id, sessionContext(req, deps))
    })
    return jsonResponse(200, answer)
  } catch (err) {
    // Two signups for one address at once: the unique index lets one through.
    if ((err as { code?: string }).code === UNIQUE_VIOLATION) {
      throw unprocessable('user_already_exists', 'User already registered')
    }
    throw err
  }
}

/** What GoTrue answers for a taken address when confirmations are on: a user that is no one. */
function lookalikeUser(email: string, data: Record<string, unknown>, nowMs: number): AuthUser {
  const now = new Date(nowMs).toISOString()
  return {
    id: crypto.randomUUID(),
    aud: AUDIENCE,
    role: '',
    email,
    phone: '',
    confirmation_sent_at: now,
    app_metadata: EMAIL_APP_METADATA,
    user_metadata: data,
    identities: [],
    created_at: now,
    updated_at: now,
    is_anonymous: false,
  }
}

export function token(req: Request, deps: AuthDeps): Promise<Response> {
  const grant = new URL(req.url).searchParams.get('grant_type')
  if (grant === 'password') return passwordGrant(req, deps)
  if (grant === 'refresh_token') return refreshTokenGrant(req, deps)
  throw badRequest('invalid_credentials', 'unsupported_grant_type')
}

async function passwordGrant(req: Request, deps: AuthDeps): Promise<Response> {
  const body = await readBody(req)
  const email = stringField(body, 'email')
  const password = stringField(body, 'password')
  if (email !== '' && stringField(body, 'phone') !== '') {
    throw badRequest(
      'validation_failed',
      'Only an email address or phone number should be provided on login.',
    )
  }
  if (email === '') {
    if (stringField(body, 'phone') !== '') {
      throw unprocessable('phone_provider_disabled', 'Phone logins are disabled')
    }
    throw badRequest('validation_failed', 'missing email or phone')
  }
  if (!deps.settings.emailEnabled) {
    throw unprocessable('email_provider_disabled', 'Email logins are disabled')
  }
  const user = await findUserByEmail(deps.sql, email)
  if (!user) throw badRequest('invalid_credentials', INVALID_LOGIN)
  if (user.banned) throw badRequest('user_banned', 'User is banned')
  if (!(await passwordMatches(deps.sql, user.id, password))) {
    throw badRequest('invalid_credentials', INVALID_LOGIN)
  }
  if (!user.confirmed) throw badRequest('email_not_confirmed', 'Email not confirmed')

  const session = await deps.sql.begin((tx) => issueSession(tx, user.id, sessionContext(req, deps)))
  // A correct but weak password still signs in; GoTrue tells the client so it can ask for a
  // stronger one.
  const weak = passwordWeakness(password, deps.settings.minimumPasswordLength)
  return jsonResponse(200, weak ? { ...session, weak_password: weak } : session)
}

async function refreshTokenGrant(req: Request, deps: AuthDeps): Promise<Response> {
  const refreshToken = stringField(await readBody(req), 'refresh_token')
  if (refreshToken === '') throw new OAuthError('invalid_request', 'refresh_token required')
  return jsonResponse(200, await refreshSession(deps.sql, refreshToken, sessionContext(req, deps)))
}

export async function getUser(req: Request, deps: AuthDeps): Promise<Response> {
  const { claims, user } = await requireUser(req, deps)
  const aud = Array.isArray(claims.aud) ? claims.aud[0] : claims.aud
  if (aud !== AUDIENCE) {
    throw badRequest('validation_failed', "Token audience doesn't match request audience")
  }
  return jsonResponse(200, user.json)
}

export async function putUser(req: Request, deps: AuthDeps): Promise<Response> {
  const { user, sessionId } = await requireUser(req, deps)
  const body = await readBody(req)
  const password = optionalStringField(body, 'password')
  const data = objectField(body, 'data')
  if (objectField(body, 'app_metadata')) {
    throw forbidden('not_admin', 'Updating app_metadata requires admin privileges')
  }
  // Changing the address needs a confirmation email, which the local stack cannot send.
  const email = stringField(body, 'email')
  if (email !== '' && validateEmail(email) !== user.json.email) {
    throw unprocessable('validation_failed', 'email: changing the email is not supported locally')
  }
  const phone = stringField(body, 'phone')
  if (phone !== '' && phone !== user.json.phone) {
    throw unprocessable('validation_failed', 'phone: changing the phone is not supported locally')
  }
  if (password !== undefined) {
    checkPasswordStrength(password, deps.settings.minimumPasswordLength)
    if (await passwordMatches(deps.sql, user.id, password)) {
      throw unprocessable(
        'same_password',
        'New password should be different from the old password.',
      )
    }
  }
  const updated = await deps.sql.begin(async (tx) => {
    const json = await updateUser(tx, user.id, { password, userMetadata: data })
    // A new password ends every other session, so whoever knew the old one is signed out.
    if (password !== undefined) await logout(tx, user.id, sessionId, 'others')
    return json
  })
  return jsonResponse(200, updated)
}

const LOGOUT_SCOPES = new Set<LogoutScope>(['global', 'local', 'others'])

export async function postLogout(req: Request, deps: AuthDeps): Promise<Response> {
  const scope = new URL(req.url).searchParams.get('scope') || 'global'
  if (!LOGOUT_SCOPES.has(scope as LogoutScope)) {
    throw badRequest('validation_failed', 'scope must be global, local or others')
  }
  const { user, sessionId } = await requireUser(req, deps)
  await logout(deps.sql, user.id, sessionId, scope as LogoutScope)
  return new Response(null, { status: 204 })
}
