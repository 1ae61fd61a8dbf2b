// rocker-discovery-run's own settings, parsed once from the environment with zod (the platform
// variables are _shared/env.ts's business).
import { z } from 'zod'
import { EnvError } from '../_shared/env.ts'

/** Gap threshold when DISCOVERY_GAP_THRESHOLD is unset: fewer than 3 active candidates is a gap. */
export const DEFAULT_GAP_THRESHOLD = 3

const schema = z.object({
  // A category with fewer active candidates than this has a gap. Set per project with
  // `supabase secrets set DISCOVERY_GAP_THRESHOLD=5`; a request may override it (`threshold`).
  DISCOVERY_GAP_THRESHOLD: z.coerce.number({ error: 'must be an integer' })
    .int({ error: 'must be an integer' })
    .min(1, { error: 'must be between 1 and 1000' })
    .max(1000, { error: 'must be between 1 and 1000' })
    .default(DEFAULT_GAP_THRESHOLD),
})

export interface DiscoveryConfig {
  gapThreshold: number
}

export const CONFIG_KEYS = Object.keys(schema.shape) as (keyof typeof schema.shape)[]

/** Validates the raw variables; throws EnvError naming each bad one. '' counts as unset. */
export function parseDiscoveryConfig(raw: Record<string, string | undefined>): DiscoveryConfig {
  const cleaned = Object.fromEntries(
    CONFIG_KEYS.map((key) => [key, raw[key] === '' ? undefined : raw[key]]),
  )
  const result = schema.safeParse(cleaned)
  if (!result.success) {
    throw new EnvError(result.error.issues.map((issue) => ({
      variable: String(issue.path[0] ?? '(environment)'),
      message: issue.message,
    })))
  }
  return { gapThreshold: result.data.DISCOVERY_GAP_THRESHOLD }
}

/** Reads Deno.env; only index.ts calls this. */
export function loadDiscoveryConfig(): DiscoveryConfig {
  return parseDiscoveryConfig(Object.fromEntries(CONFIG_KEYS.map((k) => [k, Deno.env.get(k)])))
}
