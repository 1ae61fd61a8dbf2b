// The discovery run loop: lease discovery items in batches, assess each distinct interest once
// (category, active candidates, gap), ack what succeeded and fail what did not, until the limit,
// an empty queue or the time budget. Storage is injected (store.ts talks to Postgres), so the
// loop's bookkeeping is unit-tested on its own.

/** The columns of a leased public.marketplace_discovery_queue row the loop reads. */
export interface DiscoveryItem {
  /** bigint, as postgres.js returns it: a string. */
  id: string
  interest_id: string
  user_id: string
  attempts: number
  max_attempts: number
}

/** One batch claimed by a single lease call; every item shares the lease token. */
export interface LeasedBatch {
  lease_token: string
  items: DiscoveryItem[]
}

/** The outcome for one interest, as ops.discovery_assess_interests reports it. */
export interface InterestAssessment {
  interest_id: string
  ok: boolean
  error: string | null
  gaps_opened: number
  gaps_resolved: number
}

/** What the loop needs from the database. */
export interface DiscoveryStore {
  /** Claims up to `limit` runnable items for `ttlSeconds`; null when none are runnable. */
  lease(limit: number, ttlSeconds: number): Promise<LeasedBatch | null>
  /** Assesses each interest (in its own subtransaction) against the gap threshold. */
  assess(interestIds: string[], threshold: number): Promise<InterestAssessment[]>
  /** Marks items done; returns how many were still held under the token. */
  ack(ids: string[], leaseToken: string): Promise<number>
  /** Reschedules or dead-letters items with the error; returns how many were still held. */
  fail(ids: string[], leaseToken: string, error: string): Promise<number>
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
  /**
   * Stop leasing new batches after this many ms. Default 50,000: inside the Edge Functions
   * wall-clock limit (150 s on the free plan) with room for the batch in flight.
   */
  budgetMs?: number
  /** Monotonic clock in ms, injectable for tests. Default performance.now. */
  clock?: () => number
  /** Where lost leases are reported. Default console.warn. */
  warn?: (message: string) => void
}

/**
 * The function's answer (`POST /functions/v1/rocker-discovery-run`). Counted like the
 * queue-worker's (_shared/drain.ts): only acks and fails that landed count; an item whose lease
 * was lost meanwhile belongs to the worker that holds it now.
 */
export interface RunResult {
  /** Items whose ack or fail landed. */
  processed: number
  /** Of those, the failed ones (rescheduled with backoff, or dead-lettered at max_attempts). */
  errors: number
  gaps_opened: number
  gaps_resolved: number
  duration_ms: number
}

export const DEFAULT_BATCH_SIZE = 250
export const DEFAULT_BUDGET_MS = 50_000

// Errors stored in last_error are for operators; keep a pathological message from bloating rows.
const MAX_ERROR_LENGTH = 2000

export async function runDiscovery(store: DiscoveryStore, options: RunOptions): Promise<RunResult> {
  const {
    limit,
    ttlSeconds,
    gapThreshold,
    batchSize = DEFAULT_BATCH_SIZE,
    budgetMs = DEFAULT_BUDGET_MS,
    clock = () => performance.now(),
    warn = (message: string) => console.warn(`[rocker-discovery-run] ${message}`),
  } = options
  const start = clock()
  const result = { processed: 0, errors: 0, gaps_opened: 0, gaps_resolved: 0 }
  let leased = 0

  while (leased < limit && clock() - start < budgetMs) {
    const batch = await store.lease(Math.min(batchSize, limit - leased), ttlSeconds)
    if (batch === null || batch.items.length === 0) break
    const { items, lease_token } = batch
    leased += items.length

    // Many users share an interest: assess each distinct interest once per batch.
    const interestIds = [...new Set(items.map((item) => item.interest_id))]
    let outcomes: Map<string, InterestAssessment>
    try {
      const assessed = await store.assess(interestIds, gapThreshold)
      outcomes = new Map(assessed.map((a) => [a.interest_id, a]))
    } catch (err) {
      // The whole call failed (e.g. the connection dropped): fail the batch so its items are
      // retried with backoff rather than waiting out the lease, then stop this run.
      const message = truncate(`assessment failed: ${describe(err)}`)
      await store.fail(items.map((item) => item.id), lease_token, message).catch(() => {})
      throw err
    }

    const okIds: string[] = []
    const failedByError = new Map<string, string[]>()
    for (const item of items) {
      const outcome = outcomes.get(item.interest_id)
      if (outcome?.ok) {
        okIds.push(item.id)
      } else {
        const error = truncate(outcome?.error ?? 'interest was not assessed')
        failedByError.set(error, [...(failedByError.get(error) ?? []), item.id])
      }
    }
    for (const interestId of interestIds) {
      const outcome = outcomes.get(interestId)
      if (outcome?.ok) {
        result.gaps_opened += outcome.gaps_opened
        result.gaps_resolved += outcome.gaps_resolved
      }
    }

    if (okIds.length > 0) {
      const acked = await store.ack(okIds, lease_token)
      result.processed += acked
      if (acked < okIds.length) {
        warn(`${okIds.length - acked} item(s) lost their lease before ack (ran past the TTL?)`)
      }
    }
    for (const [error, ids] of failedByError) {
      const failed = await store.fail(ids, lease_token, error)
      result.processed += failed
      result.errors += failed
      if (failed < ids.length) warn(`${ids.length - failed} item(s) lost their lease before fail`)
    }
  }

  return { ...result, duration_ms: Math.round(clock() - start) }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code
    return typeof code === 'string' ? `${err.message} (${code})` : err.message
  }
  return String(err)
}

function truncate(text: string): string {
  return text.length <= MAX_ERROR_LENGTH ? text : `${text.slice(0, MAX_ERROR_LENGTH - 1)}…`
}
