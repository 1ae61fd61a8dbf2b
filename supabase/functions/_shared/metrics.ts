// Usage metrics: what the functions did (worker runs, auth failures, legacy-migration runs,
// phases and storage calls), as one structured JSON log line per kept event and, when
// METRICS_WEBHOOK_URL is set, POSTed in batches from the background. Off unless
// ENABLE_USAGE_METRICS=1, and then nothing here can throw into a request or make it wait.
import { createBatcher } from './batcher.ts'
import type { Env } from './env.ts'

/** The settings metrics read; all optional, so an app's env slice need not carry them. */
export type MetricsEnv = Partial<
  Pick<
    Env,
    'ENABLE_USAGE_METRICS' | 'METRICS_SOURCE' | 'METRICS_SAMPLE_RATE' | 'METRICS_WEBHOOK_URL'
  >
>

export type MetricValue = string | number | boolean | null
export type MetricProps = Readonly<Record<string, MetricValue | undefined>>

/** Event names, the contract with whatever reads the log or the webhook. */
export const METRIC_EVENTS = {
  workerRun: 'worker.run',
  authFailure: 'auth.failure',
  migrationRun: 'migration.run',
  migrationPhase: 'migration.phase',
  storageOp: 'storage.op',
} as const

/** One kept event, as logged and as posted. */
export interface UsageEvent {
  type: 'usage_metric'
  source: string
  event: string
  function: string
  /** ISO timestamp of the emit. */
  at: string
  props: Record<string, MetricValue>
}

/** What the webhook receives per POST. */
export interface UsageBatch {
  source: string
  events: UsageEvent[]
}

/** One call of a worker function. `topic` is the queue topic or the worker's own work. */
export type WorkerRun = MetricProps & {
  topic: string
  processed: number
  errors: number
  duration_ms: number
}

/** A 401 or 403 a function answered; `reason` is the message the caller got. */
export type AuthFailure = MetricProps & { status: 401 | 403; route: string; reason?: string }

/** A legacy-migration run started or ended. */
export type MigrationRun = MetricProps & {
  run_id: string
  dry_run: boolean
  status: string
  rows?: number
  duration_ms?: number
}

/** One phase of a legacy-migration run. */
export type MigrationPhase = MetricProps & {
  run_id: string
  phase: string
  status: string
  rows?: number
  duration_ms: number
}

/** One Storage call (upload, download, list, remove…): its latency, and its error when it failed. */
export type StorageOp = MetricProps & {
  op: string
  duration_ms: number
  ok: boolean
  bucket?: string
  error?: string
}

export interface UsageMetricsStats {
  /** Events kept by sampling (each was logged). */
  emitted: number
  /** Events left out by sampling. */
  sampled_out: number
  /** Webhook: events posted, waiting, dropped (buffer full) and lost to failed posts. */
  sent: number
  buffered: number
  dropped: number
  failed: number
}

export interface UsageMetrics {
  /** Whether ENABLE_USAGE_METRICS is on; when off every call below does nothing. */
  readonly enabled: boolean
  /** Emits one event. Never throws, never waits. */
  emit(event: string, props?: MetricProps): void
  workerRun(run: WorkerRun): void
  authFailure(failure: AuthFailure): void
  migrationRun(run: MigrationRun): void
  migrationPhase(phase: MigrationPhase): void
  storageOp(op: StorageOp): void
  /** Resolves once every event emitted so far has been posted or given up on. */
  flush(): Promise<void>
  readonly stats: Readonly<UsageMetricsStats>
}

export interface UsageMetricsOptions {
  /** The function emitting, recorded on every event. */
  functionName: string
  env: MetricsEnv
  /** Floats in [0, 1) for sampling. Default Math.random. */
  random?: () => number
  /** Where each event's log line goes. Default console.log. */
  log?: (line: string) => void
  /** Stamps events. Default Date.now. */
  now?: () => number
  /** Default globalThis.fetch. */
  fetch?: typeof fetch
  /**
   * Events held for the webhook at most; more are dropped and counted. Default 5000 (~1.5 MB):
   * half a second of a 10,000 events/s burst, several times what one linger gathers.
   */
  maxBuffer?: number
  /** Events per POST at most. Default 500. */
  batchSize?: number
  /** Longest one POST may take. Default 2000 ms. */
  timeoutMs?: number
  /** How long the first event waits for others before a POST. Default 100 ms. */
  lingerMs?: number
  /** Runs the background POSTs. Default background.ts's waitUntil. */
  schedule?: (work: Promise<unknown>) => void
}

const noop = () => {}

const DISABLED_STATS: UsageMetricsStats = Object.freeze({
  emitted: 0,
  sampled_out: 0,
  sent: 0,
  buffered: 0,
  dropped: 0,
  failed: 0,
})

/** A UsageMetrics that does nothing: metrics off, or an app built without any. */
export const NO_METRICS: UsageMetrics = {
  enabled: false,
  emit: noop,
  workerRun: noop,
  authFailure: noop,
  migrationRun: noop,
  migrationPhase: noop,
  storageOp: noop,
  flush: () => Promise.resolve(),
  stats: DISABLED_STATS,
}

export function createUsageMetrics(options: UsageMetricsOptions): UsageMetrics {
  const { env, functionName } = options
  if (env.ENABLE_USAGE_METRICS !== true) return NO_METRICS

  const source = env.METRICS_SOURCE ?? 'casfolio-web'
  const sampleRate = env.METRICS_SAMPLE_RATE ?? 100
  const { random = Math.random, log = console.log, now = Date.now } = options
  const counts = { emitted: 0, sampled_out: 0 }
  const webhook = env.METRICS_WEBHOOK_URL
  const post = options.fetch ?? globalThis.fetch
  const timeoutMs = options.timeoutMs ?? 2000
  const batcher = webhook === undefined ? undefined : createBatcher<UsageEvent>({
    write: async (events) => {
      const body: UsageBatch = { source, events }
      const res = await post(webhook, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        // Aborts the connection too; the batcher's own deadline only stops waiting for it.
        signal: AbortSignal.timeout(timeoutMs),
      })
      await res.body?.cancel()
      if (!res.ok) throw new Error(`webhook answered ${res.status}`)
    },
    maxBuffer: options.maxBuffer ?? 5000,
    batchSize: options.batchSize ?? 500,
    timeoutMs,
    lingerMs: options.lingerMs ?? 100,
    schedule: options.schedule,
    label: 'usage metrics webhook',
  })

  function emit(event: string, props: MetricProps = {}): void {
    try {
      // Sampling per event: a rate of 100 keeps all, 1 keeps about one in a hundred.
      if (sampleRate < 100 && random() * 100 >= sampleRate) {
        counts.sampled_out++
        return
      }
      const clean: Record<string, MetricValue> = {}
      for (const [key, value] of Object.entries(props)) if (value !== undefined) clean[key] = value
      const usage: UsageEvent = {
        type: 'usage_metric',
        source,
        event,
        function: functionName,
        at: new Date(now()).toISOString(),
        props: clean,
      }
      counts.emitted++
      log(JSON.stringify(usage))
      batcher?.push(usage)
    } catch (err) {
      // A metric is never worth a failed request.
      console.error('usage metrics: could not emit:', err)
    }
  }

  return {
    enabled: true,
    emit,
    workerRun: (run) => emit(METRIC_EVENTS.workerRun, run),
    authFailure: (failure) => emit(METRIC_EVENTS.authFailure, failure),
    migrationRun: (run) => emit(METRIC_EVENTS.migrationRun, run),
    migrationPhase: (phase) => emit(METRIC_EVENTS.migrationPhase, phase),
    storageOp: (op) => emit(METRIC_EVENTS.storageOp, op),
    flush: () => batcher?.flush() ?? Promise.resolve(),
    get stats(): UsageMetricsStats {
      const sink = batcher?.stats ?? DISABLED_STATS
      return {
        ...counts,
        sent: sink.sent,
        buffered: sink.buffered,
        dropped: sink.dropped,
        failed: sink.failed,
      }
    },
  }
}
