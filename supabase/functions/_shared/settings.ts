// parseSettings(): the one way a function turns environment variables into typed settings, for
// the platform's (env.ts) and each function's own (<function>/config.ts) alike.
import { z } from 'zod'

/** Raised when settings are unusable; the message names every bad variable, never its value. */
export class EnvError extends Error {
  override readonly name = 'EnvError'
  constructor(readonly issues: readonly { variable: string; message: string }[]) {
    super(`Invalid environment: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`)
  }
}

/** Variable name → raw value, as the environment holds them. */
export type RawSettings = Readonly<Record<string, string | undefined>>

/**
 * Validates the variables `schema` names (every other one in `raw` is ignored) and returns the
 * parsed settings, or throws an EnvError naming every bad variable at once. A variable set to ''
 * counts as unset, so it gets the schema's default: an empty value is a common deploy-template
 * leftover, and to an operator it means "not set".
 */
export function parseSettings<S extends z.ZodObject>(schema: S, raw: RawSettings): z.output<S> {
  const cleaned: Record<string, string | undefined> = {}
  for (const key of Object.keys(schema.shape)) cleaned[key] = raw[key] === '' ? undefined : raw[key]
  const result = schema.safeParse(cleaned)
  if (result.success) return result.data
  throw new EnvError(result.error.issues.map((issue) => ({
    variable: String(issue.path[0] ?? '(environment)'),
    message: issue.message,
  })))
}

/**
 * An integer setting within [min, max], `fallback` when unset; messages name the range. Only
 * plain decimal digits count as an integer: `1e2`, `50.0` or `0x10` are refused, since a value an
 * operator did not write as a plain number is more likely a mistake than a choice.
 */
export function intSetting(min: number, max: number, fallback: number) {
  const range = { error: `must be between ${min} and ${max}` }
  return z.string({ error: 'must be an integer' })
    .regex(/^[+-]?[0-9]+$/, { error: 'must be an integer' })
    .transform(Number)
    .pipe(z.number().min(min, range).max(max, range))
    .default(fallback)
}

// The spellings a yes/no setting accepts; anything else is a mistake worth failing boot over.
const SWITCH_VALUES: Readonly<Record<string, boolean>> = {
  '1': true,
  'true': true,
  '0': false,
  'false': false,
}

/** A yes/no setting: `1`/`true` on, `0`/`false` off, `fallback` when unset. */
export function switchSetting(fallback: boolean) {
  return z.string()
    .refine((value) => value.toLowerCase() in SWITCH_VALUES, { error: 'must be 1 or 0' })
    .transform((value) => SWITCH_VALUES[value.toLowerCase()])
    .default(fallback)
}

/** parseSettings over Deno.env. Only index.ts files call this; everything else takes settings. */
export function loadSettings<S extends z.ZodObject>(schema: S): z.output<S> {
  const raw: Record<string, string | undefined> = {}
  for (const key of Object.keys(schema.shape)) raw[key] = Deno.env.get(key)
  return parseSettings(schema, raw)
}
