// queue-worker's own settings, parsed once from the environment with zod (the platform
// variables are _shared/env.ts's business). Each has a default; set them per project with
// `supabase secrets set QUEUE_WORKER_BUDGET_MS=40000`.
import { z } from 'zod'
import { EnvError } from '../_shared/env.ts'
import { DRAIN_DEFAULTS } from '../_shared/drain.ts'

const int = (min: number, max: number, fallback: number) =>
  z.coerce.number({ error: 'must be an integer' })
    .int({ error: 'must be an integer' })
    .min(min, { error: `must be between ${min} and ${max}` })
    .max(max, { error: `must be between ${min} and ${max}` })
    .default(fallback)

const schema = z.object({
  // Wall-clock budget per request. The Edge Functions limit is 150 s; the cap leaves room to
  // ack, answer and log.
  QUEUE_WORKER_BUDGET_MS: int(1000, 120_000, DRAIN_DEFAULTS.budgetMs),
  // Handlers running at once, unless a topic's registration says otherwise.
  QUEUE_WORKER_CONCURRENCY: int(1, 100, DRAIN_DEFAULTS.concurrency),
  // Longest one handler may run, unless its registration says otherwise.
  QUEUE_WORKER_HANDLER_TIMEOUT_MS: int(100, 600_000, DRAIN_DEFAULTS.handlerTimeoutMs),
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

export const CONFIG_KEYS = Object.keys(schema.shape) as (keyof typeof schema.shape)[]

/** Validates the raw variables; throws EnvError naming each bad one. '' counts as unset. */
export function parseQueueWorkerConfig(
  raw: Record<string, string | undefined>,
): QueueWorkerConfig {
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
  return {
    budgetMs: result.data.QUEUE_WORKER_BUDGET_MS,
    concurrency: result.data.QUEUE_WORKER_CONCURRENCY,
    handlerTimeoutMs: result.data.QUEUE_WORKER_HANDLER_TIMEOUT_MS,
  }
}

/** Reads Deno.env; only index.ts calls this. */
export function loadQueueWorkerConfig(): QueueWorkerConfig {
  return parseQueueWorkerConfig(Object.fromEntries(CONFIG_KEYS.map((k) => [k, Deno.env.get(k)])))
}
