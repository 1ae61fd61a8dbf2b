// JSON request bodies checked the way Storage's route schemas check them: a missing or mistyped
// field is a 400 InvalidRequest whose message names it ("body must have required property
// 'expiresIn'", "body/limit must be >= 1"). Unknown fields are ignored.
import { ERRORS } from './errors.ts'

export type Body = Record<string, unknown>

/** The body as one JSON object; `optional` lets an empty body read as {}. */
export async function readJson(req: Request, { optional = false } = {}): Promise<Body> {
  const text = await req.text()
  if (text.trim() === '') {
    if (optional) return {}
    throw ERRORS.invalidRequest(
      "Body cannot be empty when content-type is set to 'application/json'",
    )
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw ERRORS.invalidRequest(
      "Body is not valid JSON but content-type is set to 'application/json'",
    )
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw ERRORS.invalidRequest('body must be object')
  }
  return value as Body
}

/** Reads typed fields of one object, `at` naming where it sits ("body", "body/sortBy"). */
export class Fields {
  constructor(private readonly value: Body, private readonly at = 'body') {}

  private get(key: string, required: boolean): unknown {
    const v = this.value[key]
    if (v === undefined && required) {
      throw ERRORS.invalidRequest(`${this.at} must have required property '${key}'`)
    }
    return v
  }

  private wrong(key: string, what: string): never {
    throw ERRORS.invalidRequest(`${this.at}/${key} must be ${what}`)
  }

  string(key: string): string
  string(key: string, opts: { optional: true }): string | undefined
  string(key: string, { optional = false } = {}): string | undefined {
    const v = this.get(key, !optional)
    if (v === undefined) return undefined
    return typeof v === 'string' ? v : this.wrong(key, 'string')
  }

  integer(key: string, { min, optional = false }: { min?: number; optional?: boolean } = {}) {
    const v = this.get(key, !optional)
    if (v === undefined) return undefined
    if (typeof v !== 'number' || !Number.isInteger(v)) this.wrong(key, 'integer')
    if (min !== undefined && (v as number) < min) this.wrong(key, `>= ${min}`)
    return v as number
  }

  boolean(key: string): boolean | undefined {
    const v = this.get(key, false)
    if (v === undefined) return undefined
    return typeof v === 'boolean' ? v : this.wrong(key, 'boolean')
  }

  oneOf<T extends string>(key: string, allowed: readonly T[]): T | undefined {
    const v = this.get(key, false)
    if (v === undefined) return undefined
    return allowed.includes(v as T) ? v as T : this.wrong(key, 'equal to one of the allowed values')
  }

  object(key: string): Fields | undefined {
    const v = this.get(key, false)
    if (v === undefined) return undefined
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.wrong(key, 'object')
    return new Fields(v as Body, `${this.at}/${key}`)
  }

  strings(key: string, { minItems = 0, nullable = false } = {}): string[] | null | undefined {
    const v = this.get(key, minItems > 0)
    if (v === undefined) return undefined
    if (v === null && nullable) return null
    if (!Array.isArray(v)) this.wrong(key, 'array')
    const items = v as unknown[]
    items.forEach((item, i) => {
      if (typeof item !== 'string') {
        throw ERRORS.invalidRequest(`${this.at}/${key}/${i} must be string`)
      }
    })
    if (items.length < minItems) {
      this.wrong(key, `NOT have fewer than ${minItems} items`)
    }
    return items as string[]
  }
}
