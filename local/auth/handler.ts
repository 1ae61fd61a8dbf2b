// The local stand-in for Supabase Auth (GoTrue) at /auth/v1: the email + password routes
// supabase-js's auth client uses, behind the gateway's apikey check, over auth.users,
// auth.identities, auth.sessions and auth.refresh_tokens.
import { jsonResponse } from '../jwt.ts'
import { createUserRoute, deleteUserRoute, getUserRoute, listUsersRoute } from './admin_routes.ts'
import { errorResponse } from './errors.ts'
import { type AuthDeps, checkApiKey } from './guards.ts'
import { getUser, postLogout, putUser, signup, token } from './user_routes.ts'

export type { AuthDeps } from './guards.ts'

export const AUTH_PREFIX = '/auth/v1'

type Route = (req: Request, deps: AuthDeps, param: string) => Promise<Response>

/** Path (after /auth/v1) → method → route; `([^/]+)` captures the route's one parameter. */
const ROUTES: Array<[RegExp, Record<string, Route>]> = [
  [/^\/signup\/?$/, { POST: signup }],
  [/^\/token\/?$/, { POST: token }],
  [/^\/user\/?$/, { GET: getUser, PUT: putUser }],
  [/^\/logout\/?$/, { POST: postLogout }],
  [/^\/admin\/users\/?$/, { GET: listUsersRoute, POST: createUserRoute }],
  [/^\/admin\/users\/([^/]+)\/?$/, { GET: getUserRoute, DELETE: deleteUserRoute }],
]

export function createAuthHandler(deps: AuthDeps) {
  return async function auth(req: Request): Promise<Response> {
    // The gateway checks the key before Auth sees anything, known route or not.
    const keyError = await checkApiKey(req, deps.jwtSecret)
    if (keyError) return keyError
    const path = new URL(req.url).pathname.slice(AUTH_PREFIX.length)
    const match = ROUTES.find(([pattern]) => pattern.test(path))
    if (!match) return jsonResponse(404, { code: 'not_found', message: 'Not Found' })
    const [pattern, methods] = match
    const route = methods[req.method]
    if (!route) {
      return jsonResponse(
        405,
        { code: 'method_not_allowed', message: 'Method not allowed' },
        { allow: Object.keys(methods).join(', ') },
      )
    }
    try {
      return await route(req, deps, pattern.exec(path)![1] ?? '')
    } catch (err) {
      return errorResponse(req, err)
    }
  }
}
