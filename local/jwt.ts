// JWT checks the gateway does before a request reaches a function or the database,
// as Supabase's API gateway does with the project's JWT secret.
import { jwtVerify } from 'jose'

export type Claims = Record<string, unknown> & { role?: string; sub?: string }

export function bearerToken(req: Request): string | null {
  const header = req.headers.get('authorization')
  if (!header) return null
  const m = /^Bearer\s+(\S+)$/i.exec(header.trim())
  return m ? m[1] : null
}

/**
 * The token's claims if it is signed with `secret`, else null. `exp` is checked when present
 * and not required: PostgREST's rule, which the functions' own check (_shared/auth.ts) follows
 * too, so one token gets one answer from every route.
 */
export async function verifyJwt(token: string, secret: string): Promise<Claims | null> {
  try {
    const { payload } = await jwtVerify(token, new TextEncoder().encode(secret), {
      algorithms: ['HS256'],
    })
    return payload as Claims
  } catch {
    return null
  }
}

export function jsonResponse(status: number, body: unknown, headers: HeadersInit = {}) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  })
}
