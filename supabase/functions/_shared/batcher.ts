// A bounded in-process buffer drained in the background in batches: how request spans reach
// Postgres and usage metrics reach their webhook without a request ever waiting on either.
// One drain runs at a time; items that arrive while a batch is being written join the next one,
// so batches grow with load instead of writes multiplying.
import { waitUntil } from './background.ts'
import { withDeadline } from './deadline.ts'

export interface BatcherOptions<T> {
  /** Sends one batch. A rejection (or a timeout) loses that batch, counted in `failed`. */
  write: (batch: T[]) => Promise<void>
  /** Items held at most; past it a new item is dropped and counted in `dropped`. */
  maxBuffer: number
  /** Items per write at most. */
  batchSize: number
  /** Longest one write may take before it counts as failed and the drain moves on. */
  timeoutMs: number
  /**
   * How long the first item waits for company before the drain starts. Default 0: a batch
   * forms from whatever arrives while the previous write is in flight.
   */
  lingerMs?: number
  /** Runs the drain past the response. Default background.ts's waitUntil. */
  schedule?: (work: Promise<unknown>) => void
  /** Names the buffer in the failure log line. */
  label: string
}

/** Running totals since the batcher was made. */
export interface BatcherStats {
  /** Items waiting for the next write. */
  buffered: number
  /** Items in writes that succeeded. */
  sent: number
  /** Items refused because the buffer was full. */
  dropped: number
  /** Items in writes that failed or timed out. */
  failed: number
}

export interface Batcher<T> {
  /** Queues one item; false when the buffer is full and it was dropped. Never throws. */
  push(item: T): boolean
  /** Resolves once everything pushed so far has been written (or failed). */
  flush(): Promise<void>
  readonly stats: Readonly<BatcherStats>
}

// A database or sink that is down fails every write; one line a minute says so without flooding
// the function's log.
const FAILURE_LOG_INTERVAL_MS = 60_000

export function createBatcher<T>(options: BatcherOptions<T>): Batcher<T> {
  const { write, maxBuffer, batchSize, timeoutMs, lingerMs = 0, schedule = waitUntil, label } =
    options
  const buffer: T[] = []
  const stats: BatcherStats = { buffered: 0, sent: 0, dropped: 0, failed: 0 }
  let draining: Promise<void> | undefined
  let lastFailureLog = -Infinity

  const logFailure = (err: unknown, lost: number) => {
    const at = performance.now()
    if (at - lastFailureLog < FAILURE_LOG_INTERVAL_MS) return
    lastFailureLog = at
    const reason = err instanceof Error ? err.message : String(err)
    console.error(
      `${label}: write of ${lost} failed (${reason}); ${stats.failed} lost, ` +
        `${stats.dropped} dropped so far`,
    )
  }

  async function drain(): Promise<void> {
    try {
      if (lingerMs > 0) await new Promise((resolve) => setTimeout(resolve, lingerMs))
      // One turn of the microtask queue, so items pushed in the same tick share the first write.
      else await Promise.resolve()
      while (buffer.length > 0) {
        const batch = buffer.splice(0, batchSize)
        stats.buffered = buffer.length
        try {
          await withDeadline(write(batch), timeoutMs)
          stats.sent += batch.length
        } catch (err) {
          stats.failed += batch.length
          logFailure(err, batch.length)
        }
      }
    } finally {
      draining = undefined
    }
  }

  return {
    push(item) {
      if (buffer.length >= maxBuffer) {
        stats.dropped++
        return false
      }
      buffer.push(item)
      stats.buffered = buffer.length
      if (draining === undefined) {
        draining = drain()
        try {
          schedule(draining)
        } catch (err) {
          // A scheduler that throws must not fail the caller; the drain runs regardless.
          console.error(`${label}: could not schedule the flush:`, err)
        }
      }
      return true
    },
    async flush() {
      while (draining !== undefined) await draining
    },
    stats,
  }
}
