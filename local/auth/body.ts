// Request bodies as GoTrue decodes them: one JSON object, unknown fields ignored (supabase-js
// sends extras such as gotrue_meta_security), a field of the wrong type is a 400 bad_json
// naming the field. Values are never echoed back.
import { badRequest } from './errors.ts'

export type Body = Record<string, unknown>

const PARSE_PREFIX = 'Could not parse request body as JSON'

/** The body as an object; `optional` lets an empty body read as {} (admin user delete). */
export async function readBody(req: Request, { optional = false } = {}): Promise<Body> {
  const text = await req.text()
  if (optional && text.trim() === '') return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw badRequest('bad_json', `${PARSE_PREFIX}: the body is not valid JSON`)
  }
  if (value === null) return {}
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('bad_json', `${PARSE_PREFIX}: the body must be a JSON object`)
  }
  return value as Body
}

/** A string field; absent or null reads as '' (Go's zero value). */
export function stringField(body: Body, key: string): string {
  const value = body[key]
  if (value === undefined || value === null) return ''
  if (typeof value !== 'string') {
    throw badRequest('bad_json', `${PARSE_PREFIX}: ${key} must be a string`)
  }
  return value
}

/** A string field where absent (undefined) differs from '' (a password being set to empty). */
export function optionalStringField(body: Body, key: string): string | undefined {
  return body[key] === undefined || body[key] === null ? undefined : stringField(body, key)
}

export function booleanField(body: Body, key: string): boolean {
  const value = body[key]
  if (value === undefined || value === null) return false
  if (typeof value !== 'boolean') {
    throw badRequest('bad_json', `${PARSE_PREFIX}: ${key} must be a boolean`)
  }
  return value
}

/** A JSON object field (metadata); absent or null reads as undefined. */
export function objectField(body: Body, key: string): Record<string, unknown> | undefined {
  const value = body[key]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw badRequest('bad_json', `${PARSE_PREFIX}: ${key} must be a JSON object`)
  }
  return value as Record<string, unknown>
}
