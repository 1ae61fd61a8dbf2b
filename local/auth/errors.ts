// GoTrue's error contract: stable codes and statuses, rendered in the shape the caller's
// `X-Supabase-Api-Version` asks for (supabase-js sends 2024-01-01 and reads `code`; curl gets the
// original `{code: <status>, error_code, msg}`), so supabase-js maps them to the same AuthErrors.
import { jsonResponse } from '../jwt.ts'

export const API_VERSION_HEADER = 'X-Supabase-Api-Version'
const API_VERSION_2024 = '2024-01-01'

/** An error Auth answers with; `extra` fields sit beside code and message (weak_password). */
export class AuthError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message)
  }
}

/** OAuth2's `{error, error_description}` shape, which GoTrue keeps for a few token errors. */
export class OAuthError extends Error {
  constructor(readonly error: string, readonly description: string) {
    super(description)
  }
}

export const badRequest = (code: string, message: string) => new AuthError(400, code, message)
export const unprocessable = (code: string, message: string) => new AuthError(422, code, message)
export const forbidden = (code: string, message: string) => new AuthError(403, code, message)

/** True when the caller asked for the 2024-01-01 error shape (any later date counts). */
export function wantsDatedErrors(req: Request): boolean {
  const asked = req.headers.get(API_VERSION_HEADER)
  return asked !== null && /^\d{4}-\d{2}-\d{2}$/.test(asked) && asked >= API_VERSION_2024
}

export function errorResponse(req: Request, err: unknown): Response {
  if (err instanceof OAuthError) {
    return jsonResponse(400, { error: err.error, error_description: err.description })
  }
  const e = err instanceof AuthError ? err : internalError(err)
  const headers: Record<string, string> = { 'x-sb-error-code': e.code }
  if (wantsDatedErrors(req)) {
    // supabase-js reads `code` only when the answer names the version it was rendered for.
    headers[API_VERSION_HEADER] = API_VERSION_2024
    return jsonResponse(e.status, { code: e.code, message: e.message, ...e.extra }, headers)
  }
  return jsonResponse(
    e.status,
    { code: e.status, error_code: e.code, msg: e.message, ...e.extra },
    headers,
  )
}

/** Anything unexpected is logged and answered opaquely, never echoed. */
function internalError(err: unknown): AuthError {
  console.error('auth: unexpected error', err)
  return new AuthError(500, 'unexpected_failure', 'Internal Server Error')
}

/** The API gateway's answer when the apikey is missing or not one of the project's keys. */
export function apiKeyError(message: string): Response {
  return jsonResponse(401, { message })
}
