// queue-worker's own settings, parsed once from the environment (the platform variables are
// _shared/env.ts's business). Each has a default; set them per project with
// `supabase secrets set QUEUE_WORKER_BUDGET_MS=40000`.
import { z } from 'zod'
import { DRAIN_DEFAULTS } from '../_shared/drain.ts'
import { intSetting, loadSettings, parseSettings, type RawSettings } from '../_shared/settings.ts'

const schema = z.object({
  // Wall-clock budget per request. The Edge Functions limit is 150 s; the cap leaves room to
  // ack, answer and log.
  QUEUE_WORKER_BUDGET_MS: intSetting(1000, 120_000, DRAIN_DEFAULTS.budgetMs),
  // Handlers running at once, unless a topic's registration says otherwise.
  QUEUE_WORKER_CONCURRENCY: intSetting(1, 100, DRAIN_DEFAULTS.concurrency),
  // Longest one handler may run, unless its registration says otherwise.
  QUEUE_WORKER_HANDLER_TIMEOUT_MS: intSetting(100, 600_000, DRAIN_DEFAULTS.handlerTimeoutMs),
})

export interface QueueWorkerConfig {
  budgetMs: number
  concurrency: number
  handlerTimeoutMs: number
}

export const DEFAULT_CONFIG: QueueWorkerConfig = {
  budgetMs: DRAIN_DEFAULTS.budgetMs,
  concurrency: DRAIN_DEFAULTS.concurrency,
  handlerTimeoutMs: DRAIN_DEFAULTS.handlerTimeoutMs,
}

const toConfig = (settings: z.output<typeof schema>): QueueWorkerConfig => ({
  budgetMs: settings.QUEUE_WORKER_BUDGET_MS,
  concurrency: settings.QUEUE_WORKER_CONCURRENCY,
  handlerTimeoutMs: settings.QUEUE_WORKER_HANDLER_TIMEOUT_MS,
})

/** Validates the raw variables; throws EnvError naming each bad one. '' counts as unset. */
export function parseQueueWorkerConfig(raw: RawSettings): QueueWorkerConfig {
  return toConfig(parseSettings(schema, raw))
}

/** Reads Deno.env; only index.ts calls this. */
export function loadQueueWorkerConfig(): QueueWorkerConfig {
  return toConfig(loadSettings(schema))
}
