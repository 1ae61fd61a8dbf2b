// One discovery run: _shared/drain.ts's loop over public.marketplace_discovery_queue with a batch
// handler that assesses each distinct interest of a batch once (category, active candidates,
// gap) and acks or fails each item by its interest's outcome. The queue and the assessment are
// injected (assess.ts calls Postgres), so the run's bookkeeping is unit-tested on its own.
import { type BatchHandler, drainQueue, type JobOutcome } from '../_shared/drain.ts'
import type { DiscoveryItem, LeasedQueue } from '../_shared/lease.ts'
import type { Clock } from '../_shared/wiring.ts'

/** The outcome for one interest, as ops.discovery_assess_interests reports it. */
export interface InterestAssessment {
  interest_id: string
  ok: boolean
  error: string | null
  gaps_opened: number
  gaps_resolved: number
}

/**
 * Assesses each interest (in its own subtransaction) against the gap threshold. Should stop
 * (cancel its query) when `signal` fires: the batch has been failed with a timeout by then.
 */
export type AssessInterests = (
  interestIds: readonly string[],
  threshold: number,
  signal: AbortSignal,
) => Promise<InterestAssessment[]>

/** What a run needs from the database. */
export interface DiscoveryDeps {
  queue: LeasedQueue<DiscoveryItem>
  assess: AssessInterests
}

export interface RunOptions {
  /** Most items to handle in this run (1–1000). */
  limit: number
  /** Lease time per batch in seconds; a batch must finish well inside it. */
  ttlSeconds: number
  /** A category with fewer active candidates than this has a gap. */
  gapThreshold: number
  /** Largest batch leased at once. Default 250: one assessment call stays well under a second. */
  batchSize?: number
  /** Wall-clock budget for the run; default drainQueue's (DRAIN_DEFAULTS.budgetMs). */
  budgetMs?: number
  /** Monotonic clock for the budget; default drainQueue's (performance.now). */
  now?: Clock
  /** Where lost leases are reported; default drainQueue's (console.warn). */
  warn?: (line: string) => void
  /** The caller's request signal: the run stops when the caller goes away (see drainQueue). */
  signal?: AbortSignal
}

/**
 * The function's answer (`POST /functions/v1/rocker-discovery-run`). Counted as drainQueue
 * counts: only acks and fails that landed; an item whose lease was lost meanwhile belongs to the
 * worker that holds it now.
 */
export interface RunResult {
  /** Items whose ack or fail landed. */
  processed: number
  /** Of those, the failed ones (rescheduled with backoff, or dead-lettered at max_attempts). */
  errors: number
  /** Summed over the interests assessed successfully. */
  gaps_opened: number
  gaps_resolved: number
  duration_ms: number
}

export const DEFAULT_BATCH_SIZE = 250

/** Recorded in leased_by, so an operator can tell whose lease a row is under. */
export const WORKER = 'rocker-discovery-run'

const OK: JobOutcome = { ok: true }
const NOT_ASSESSED = 'interest was not assessed'

/**
 * The assessment call itself failed, so no item of the batch was judged; `cause` is what the
 * call threw. Its message (the items' last_error) keeps the driver's code, e.g. a SQLSTATE.
 */
export class AssessmentError extends Error {
  override readonly name = 'AssessmentError'
  /**
   * The cause's code (SQLSTATE or connection error), kept so the app's error map answers as it
   * would for the cause itself: a dropped connection is a 503, not an opaque 500.
   */
  readonly code?: string
  constructor(cause: unknown) {
    const code = (cause as { code?: unknown } | null)?.code
    const message = cause instanceof Error ? cause.message : String(cause)
    super(`assessment failed: ${message}${typeof code === 'string' ? ` (${code})` : ''}`, {
      cause,
    })
    if (typeof code === 'string') this.code = code
  }
}

/**
 * Leases items in batches and assesses them until the limit, an empty queue or the budget. A
 * failing assessment call (the connection dropped, say) fails its whole batch, so the items are
 * retried with backoff rather than waiting out the lease, and ends the run: drainQueue rethrows
 * the AssessmentError.
 */
export async function runDiscovery(deps: DiscoveryDeps, options: RunOptions): Promise<RunResult> {
  const gaps = { opened: 0, resolved: 0 }

  const handleBatch: BatchHandler<DiscoveryItem> = async (items, { signal }) => {
    // Many users share an interest: assess each distinct interest once per batch.
    const interestIds = [...new Set(items.map((item) => item.interest_id))]
    let assessed: InterestAssessment[]
    try {
      assessed = await deps.assess(interestIds, options.gapThreshold, signal)
    } catch (err) {
      throw new AssessmentError(err)
    }
    const outcomes = new Map<string, JobOutcome>()
    for (const a of assessed) {
      if (a.ok) {
        gaps.opened += a.gaps_opened
        gaps.resolved += a.gaps_resolved
      }
      outcomes.set(a.interest_id, a.ok ? OK : { ok: false, error: a.error ?? NOT_ASSESSED })
    }
    const notAssessed: JobOutcome = { ok: false, error: NOT_ASSESSED }
    return items.map((item) => outcomes.get(item.interest_id) ?? notAssessed)
  }

  const result = await drainQueue({
    queue: deps.queue,
    handleBatch,
    limit: options.limit,
    ttlSeconds: options.ttlSeconds,
    batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
    budgetMs: options.budgetMs,
    now: options.now,
    warn: options.warn,
    signal: options.signal,
    worker: WORKER,
  })
  return {
    processed: result.processed,
    errors: result.errors,
    gaps_opened: gaps.opened,
    gaps_resolved: gaps.resolved,
    duration_ms: result.duration_ms,
  }
}
