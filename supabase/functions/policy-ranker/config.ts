// policy-ranker's own settings, parsed once from the environment (the platform variables are
// _shared/env.ts's business). The reward range and window are data, not settings: they live in
// ops.learning_settings / ops.learning_surfaces, where record_learning_reward reads them.
import { z } from 'zod'
import { intSetting, loadSettings, parseSettings, type RawSettings } from '../_shared/settings.ts'

/** Calls per user per minute when RANKER_RATE_LIMIT_PER_MINUTE is unset: a feed refresh every 0.5 s. */
export const DEFAULT_RATE_LIMIT_PER_MINUTE = 120

const schema = z.object({
  // Per signed-in user, over /rank and /reward together (one check_rate_limit bucket).
  RANKER_RATE_LIMIT_PER_MINUTE: intSetting(1, 100_000, DEFAULT_RATE_LIMIT_PER_MINUTE),
})

export interface RankerConfig {
  rateLimitPerMinute: number
}

const toConfig = (settings: z.output<typeof schema>): RankerConfig => ({
  rateLimitPerMinute: settings.RANKER_RATE_LIMIT_PER_MINUTE,
})

/** Validates the raw variables; throws EnvError naming each bad one. '' counts as unset. */
export function parseRankerConfig(raw: RawSettings): RankerConfig {
  return toConfig(parseSettings(schema, raw))
}

/** Reads Deno.env; only index.ts calls this. */
export function loadRankerConfig(): RankerConfig {
  return toConfig(loadSettings(schema))
}
