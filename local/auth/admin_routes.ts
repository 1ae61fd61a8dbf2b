// The admin users routes supabase-js's `auth.admin` calls with the service_role key: list
// (paged, with GoTrue's Link and X-Total-Count headers), create, get and delete.
import { jsonResponse } from '../jwt.ts'
import {
  type Body,
  booleanField,
  objectField,
  optionalStringField,
  readBody,
  stringField,
} from './body.ts'
import { AuthError, badRequest, unprocessable } from './errors.ts'
import { type AuthDeps, requireAdmin } from './guards.ts'
import {
  AUDIENCE,
  deleteUser,
  EMAIL_APP_METADATA,
  findUserByEmail,
  findUserById,
  insertUser,
  listUsers,
  NIL_UUID,
  softDeleteUser,
  updateUser,
} from './users.ts'
import { randomToken } from './tokens.ts'
import { checkPasswordLength, isUuid, validateEmail } from './validate.ts'

const DEFAULT_PER_PAGE = 50
/** GoTrue's largest page; more in one answer would be a scan an operator did not mean. */
const MAX_PER_PAGE = 1000

function pageParam(params: URLSearchParams, key: string, fallback: number, max: number): number {
  const raw = params.get(key) ?? ''
  if (raw === '') return fallback
  const value = Number(raw)
  if (!/^\d+$/.test(raw) || value < 1 || value > max) {
    throw badRequest(
      'validation_failed',
      `Bad Pagination Parameters: ${key} must be between 1 and ${max}`,
    )
  }
  return value
}

export async function listUsersRoute(req: Request, deps: AuthDeps): Promise<Response> {
  await requireAdmin(req, deps)
  const params = new URL(req.url).searchParams
  const page = pageParam(params, 'page', 1, Number.MAX_SAFE_INTEGER)
  const perPage = pageParam(params, 'per_page', DEFAULT_PER_PAGE, MAX_PER_PAGE)
  const { users, total } = await listUsers(deps.sql, page, perPage)
  const lastPage = Math.ceil(total / perPage)
  // GoTrue links the page it would serve next and the last one, keys sorted (page before
  // per_page): supabase-js reads the page number straight after the first '='.
  const link = (n: number) => {
    const q = new URLSearchParams(params)
    q.set('page', String(n))
    q.sort()
    return `</admin/users?${q}>`
  }
  const links = lastPage > page ? [`${link(page + 1)}; rel="next"`] : []
  links.push(`${link(lastPage)}; rel="last"`)
  return jsonResponse(200, { users, aud: AUDIENCE }, {
    link: links.join(', '),
    'x-total-count': String(total),
  })
}

/** Fields GoTrue's admin create takes that the local stand-in does not implement. */
const UNSUPPORTED_CREATE_FIELDS = ['phone', 'password_hash', 'ban_duration', 'aud']

function refuseUnsupported(body: Body) {
  for (const key of UNSUPPORTED_CREATE_FIELDS) {
    const value = body[key]
    if (value !== undefined && value !== null && value !== '') {
      throw unprocessable('validation_failed', `${key}: not supported by the local Auth`)
    }
  }
}

export async function createUserRoute(req: Request, deps: AuthDeps): Promise<Response> {
  await requireAdmin(req, deps)
  const body = await readBody(req)
  refuseUnsupported(body)
  const rawEmail = stringField(body, 'email')
  if (rawEmail === '') {
    throw badRequest('validation_failed', 'Cannot create a user without either an email or phone')
  }
  const email = validateEmail(rawEmail)
  // No password: a random one nobody knows, as GoTrue does (the user signs in another way).
  const password = optionalStringField(body, 'password') || randomToken(48)
  checkPasswordLength(password)
  const id = optionalStringField(body, 'id') || crypto.randomUUID()
  if (!isUuid(id) || id === NIL_UUID) {
    throw badRequest('validation_failed', 'id must be a non-nil UUID')
  }
  const confirmed = booleanField(body, 'email_confirm')
  const userMetadata = objectField(body, 'user_metadata') ?? {}
  const appMetadata = objectField(body, 'app_metadata')

  const user = await deps.sql.begin(async (tx) => {
    if (await findUserByEmail(tx, email)) {
      throw unprocessable(
        'email_exists',
        'A user with this email address has already been registered',
      )
    }
    if (await findUserById(tx, id)) {
      throw unprocessable('validation_failed', 'id: a user with this id already exists')
    }
    const created = await insertUser(tx, {
      id,
      email,
      password,
      confirmed,
      confirmationSent: false,
      role: optionalStringField(body, 'role') || AUDIENCE,
      appMetadata: EMAIL_APP_METADATA,
      userMetadata: confirmed ? { ...userMetadata, email_verified: true } : userMetadata,
      identityData: { sub: id, email, email_verified: false, phone_verified: false },
    })
    // GoTrue applies app_metadata as an update after creating the user: same merge rules.
    return appMetadata ? await updateUser(tx, id, { appMetadata }) : created
  })
  return jsonResponse(200, user)
}

async function loadUser(req: Request, deps: AuthDeps, id: string) {
  await requireAdmin(req, deps)
  if (!isUuid(id)) throw new AuthError(404, 'validation_failed', 'user_id must be an UUID')
  const user = await findUserById(deps.sql, id)
  if (!user) throw new AuthError(404, 'user_not_found', 'User not found')
  return user
}

export async function getUserRoute(req: Request, deps: AuthDeps, id: string): Promise<Response> {
  return jsonResponse(200, (await loadUser(req, deps, id)).json)
}

export async function deleteUserRoute(req: Request, deps: AuthDeps, id: string): Promise<Response> {
  const user = await loadUser(req, deps, id)
  const soft = booleanField(await readBody(req, { optional: true }), 'should_soft_delete')
  await deps.sql.begin((tx) => soft ? softDeleteUser(tx, user.id) : deleteUser(tx, user.id))
  return jsonResponse(200, {})
}
