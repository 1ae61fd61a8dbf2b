// Which methods a path answers, so a known path called with the wrong method is a 405 naming
// them in `Allow` (RFC 9110 §15.5.6), not a 404 that says the path does not exist.
import type { Hono } from 'hono'

// The methods a function can be called with (the gateway refuses CONNECT, TRACE and TRACK).
const CANDIDATES = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

/**
 * The methods `app` has a route for at `path`, in a fixed order, with HEAD wherever GET is
 * (Hono answers HEAD with the GET route). Empty when no route matches the path at all.
 */
export function allowedMethods(
  // deno-lint-ignore no-explicit-any
  app: Hono<any, any, any>,
  path: string,
): string[] {
  const allowed: string[] = []
  for (const method of CANDIDATES) {
    const [handlers] = app.router.match(method, path)
    // Middleware (`app.use`) is registered for every method: only a route for this one counts.
    if (handlers.some(([[, route]]) => route.method === method)) {
      allowed.push(method)
      if (method === 'GET') allowed.push('HEAD')
    }
  }
  return allowed
}
