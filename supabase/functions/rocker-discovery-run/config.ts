// rocker-discovery-run's own settings, parsed once from the environment (the platform variables
// are _shared/env.ts's business).
import { z } from 'zod'
import { intSetting, loadSettings, parseSettings, type RawSettings } from '../_shared/settings.ts'

/** Gap threshold when DISCOVERY_GAP_THRESHOLD is unset: fewer than 3 active candidates is a gap. */
export const DEFAULT_GAP_THRESHOLD = 3

const schema = z.object({
  // A category with fewer active candidates than this has a gap. Set per project with
  // `supabase secrets set DISCOVERY_GAP_THRESHOLD=5`; a request may override it (`threshold`).
  DISCOVERY_GAP_THRESHOLD: intSetting(1, 1000, DEFAULT_GAP_THRESHOLD),
})

export interface DiscoveryConfig {
  gapThreshold: number
}

const toConfig = (settings: z.output<typeof schema>): DiscoveryConfig => ({
  gapThreshold: settings.DISCOVERY_GAP_THRESHOLD,
})

/** Validates the raw variables; throws EnvError naming each bad one. '' counts as unset. */
export function parseDiscoveryConfig(raw: RawSettings): DiscoveryConfig {
  return toConfig(parseSettings(schema, raw))
}

/** Reads Deno.env; only index.ts calls this. */
export function loadDiscoveryConfig(): DiscoveryConfig {
  return toConfig(loadSettings(schema))
}
