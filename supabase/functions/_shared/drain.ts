// drainQueue(): the lease → run handlers → ack/fail loop every worker function shares.
import type { Lease, LeasedQueue, QueueRow } from './lease.ts'
import type { Clock } from './wiring.ts'

/** What a handler gets besides its work. */
export interface JobContext {
  /**
   * Fires at the deadline, when the work is failed with a timeout (see handlerTimeoutMs), or
   * when a lease extension (this job's or another job's of its batch) finds that none of the
   * job's rows is held any more (with a LeaseLostError).
   */
  readonly signal: AbortSignal
  /**
   * A heartbeat for a job that needs longer than its lease: extends the lease of the job's whole
   * batch (every row waits for the batch's one ack) to `seconds` (an integer, 1–3600) from now,
   * cut to the run's remaining budget, and moves the job's deadline to min(its start + the
   * handler timeout, 80 % of the extension), as for a fresh lease. Never shortens either.
   * Resolves to true while the job's rows are all still held; false when the job has already
   * ended or some row is no longer this lease's. Every running job of the batch none of whose
   * rows is held any more (the lease expired and another worker claimed them) is stopped at once
   * like a timed-out one, this one included: its signal fires with a LeaseLostError, and its ack
   * or fail would be fenced out anyway. With under a second of budget left it extends nothing
   * and resolves to true: the deadline stands.
   */
  extendLease(seconds: number): Promise<boolean>
}

/**
 * Runs one job. Throwing (or rejecting) fails the job; the signal fires at its deadline, when
 * the job is failed with a timeout whether or not the handler has stopped. A handler that
 * ignores the signal keeps running in the background while its job may be retried, so handlers
 * must be idempotent and should stop (cancel queries, abort fetches) when the signal fires.
 */
export type JobHandler<Row extends QueueRow> = (row: Row, ctx: JobContext) => Promise<void>

/**
 * Starts `start()` (a postgres.js query, or anything else with cancel()) unless `signal` has
 * fired, and cancels it if `signal` fires while it runs: how a handler honours its signal around
 * one query. postgres.js queries run when first awaited, so `start` may build the query itself.
 * Without a signal it simply runs.
 */
export async function runCancellable<T>(
  signal: AbortSignal | undefined,
  start: () => PromiseLike<T> & { cancel(): unknown },
): Promise<T> {
  if (signal === undefined) return await start()
  signal.throwIfAborted()
  const work = start()
  const cancel = () => void work.cancel()
  signal.addEventListener('abort', cancel, { once: true })
  try {
    return await work
  } finally {
    signal.removeEventListener('abort', cancel)
  }
}

/** How one row of a batch ended. A failed row's error is stored as describeJobError(error). */
export type JobOutcome = { ok: true } | { ok: false; error: unknown }

/**
 * Runs a whole leased batch in one go, for work that is cheaper per batch than per row (one SQL
 * call for all of them). Resolves to one outcome per row, in the rows' order. Rejecting means
 * the batch could not be judged at all (the connection dropped, say): every row fails with that
 * error, and once the fail calls have landed drainQueue rethrows it, ending the run. The batch
 * is one job for the deadline: past it, every row fails with a timeout and the run goes on.
 */
export type BatchHandler<Row extends QueueRow> = (
  rows: readonly Row[],
  ctx: JobContext,
) => Promise<readonly JobOutcome[]>

/** Exactly one of the two: a handler per row, or one for the whole batch. */
export type DrainHandler<Row extends QueueRow> =
  | { handle: JobHandler<Row>; handleBatch?: undefined }
  | { handleBatch: BatchHandler<Row>; handle?: undefined }

export type DrainOptions<Row extends QueueRow> = DrainSettings<Row> & DrainHandler<Row>

interface DrainSettings<Row extends QueueRow> {
  queue: LeasedQueue<Row>
  /** Jobs to run at most in this call. */
  limit: number
  /** Lease length in seconds. */
  ttlSeconds: number
  /** Rows per lease call. Default min(limit, 100); at most 1000. */
  batchSize?: number
  /** Handlers running at once (per-row handlers only). Default 8. */
  concurrency?: number
  /**
   * Longest one handler call (a row's, or a batch handler's whole batch) may run before its
   * rows fail with a timeout. Default 30 s. Each call's deadline is set when it starts:
   * min(start + this, lease start + 80 % of the TTL, end of the budget). No call starts once the
   * lease's 80 % mark or the budget's end has passed; its rows are released (back to queued,
   * attempt not consumed). So every handler ends, and the batch's single ack is sent, inside the
   * lease and the budget.
   */
  handlerTimeoutMs?: number
  /**
   * Wall-clock budget for the whole call. Default 50 s: a third of the Edge Functions limit
   * (150 s), so a run finishes, acks and answers long before the platform kills it, and a
   * per-minute cron schedule never has two runs of one topic overlapping for long.
   */
  budgetMs?: number
  /** Recorded in leased_by. */
  worker?: string
  /** Times the budget and the lease cutoff; monotonic. Default performance.now. */
  now?: Clock
  /** Where lost leases and other surprises are reported. Default console.warn. */
  warn?: (line: string) => void
  /**
   * The caller's request signal. Once it fires (the caller went away), the run ends as if its
   * budget were spent: a lease call in flight is cancelled, no further lease is taken and no job
   * starts (leased rows that did not start are released). Running handlers keep their own
   * deadlines, so their rows are still acked or failed rather than left to their lease's expiry.
   */
  signal?: AbortSignal
}

export interface DrainResult {
  /** Jobs whose handler ran to an end (success or failure) and whose ack or fail landed. */
  processed: number
  // Rows released unstarted (out of time) are not counted anywhere: they simply run later.
  /** Of those, the ones that failed. */
  errors: number
  /** Of the errors, the ones that used their last attempt and are now in the dead-letter queue. */
  dead_lettered: number
  duration_ms: number
}

export const DRAIN_DEFAULTS = {
  batchSize: 100,
  concurrency: 8,
  handlerTimeoutMs: 30_000,
  budgetMs: 50_000,
} as const

// A lease is only taken while at least this much budget is left, so its jobs get a fair run.
const MIN_BUDGET_FOR_LEASE_MS = 250
// Handlers must finish well inside the lease, or another worker may claim the job meanwhile.
const LEASE_SAFETY_FRACTION = 0.8
// last_error keeps the message and the top of the stack; fail_* truncates at 4000 anyway.
const MAX_ERROR_LENGTH = 2000

/** The handler ran past its deadline; its job is failed with this message. */
export class HandlerTimeoutError extends Error {
  override readonly name = 'HandlerTimeoutError'
  constructor(readonly ms: number) {
    super(`handler timed out after ${ms} ms`)
  }
}

/**
 * What a failed job's last_error says: the error's name, message and top of its stack (a
 * timeout's or a lost lease's message alone: its stack is this module's, not the handler's).
 * Cut to 2000 characters, ending in "…" when cut, so an operator can tell.
 */
export function describeJobError(err: unknown): string {
  let text: string
  if (err instanceof HandlerTimeoutError || err instanceof LeaseLostError) {
    text = err.message
  } else if (err instanceof Error) {
    text = err.stack && err.stack.includes(err.message) ? err.stack : `${err.name}: ${err.message}`
  } else {
    try {
      text = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err)
    } catch {
      text = String(err)
    }
  }
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text
}

/** How a handler call ended: resolved with `value`, or threw (or timed out with) `error`. */
type Ended<T> = { ok: true; value: T } | { ok: false; error: unknown }

/** A running handler call's clock, as BatchTimeouts keeps it. */
interface TimedJob {
  /** performance.now() at which the job times out. */
  deadline: number
  /** Ended (resolved, rejected, timed out or stopped): its timer no longer matters. */
  done: boolean
  /** Set once an extension moved the deadline: the job has left the line for a timer of its own. */
  own?: ReturnType<typeof setTimeout>
  expire(): void
}

/**
 * The handler deadlines of one batch, on one timer. A job's deadline is min(its start + the
 * handler timeout, the batch's cutoff); both terms grow with the start time, so deadlines come
 * in start order and the timer only ever waits for the oldest running job. A timer per job
 * would cost a setTimeout/clearTimeout pair each (~5 µs in Deno, a tenth of a no-op job's whole
 * budget at 15,000 jobs/s). A job whose lease extension moves its deadline later would break
 * that order, so it leaves the line for a timer of its own (extensions are rare). Deadlines are
 * kept on performance.now(), which timers run on.
 */
class BatchTimeouts {
  private readonly running: TimedJob[] = []
  private head = 0
  private timer: ReturnType<typeof setTimeout> | undefined

  /** Starts a job's clock; `job.expire()` runs if it is still running `ms` from now. */
  start(ms: number, job: TimedJob): void {
    job.deadline = performance.now() + ms
    this.running.push(job)
    if (this.timer === undefined) this.arm()
  }

  /** Moves a running job's deadline to `ms` from now, if that is later. */
  extend(job: TimedJob, ms: number): void {
    const deadline = performance.now() + ms
    if (job.done || deadline <= job.deadline) return
    job.deadline = deadline
    clearTimeout(job.own)
    job.own = setTimeout(() => {
      if (job.done) return
      job.done = true
      job.expire()
    }, ms)
  }

  /** Clears the timer; call once every job of the batch has ended. */
  stop(): void {
    clearTimeout(this.timer)
    this.timer = undefined
  }

  private arm(): void {
    while (this.head < this.running.length && this.settled(this.running[this.head])) this.head++
    if (this.head === this.running.length) return
    const wait = Math.max(0, this.running[this.head].deadline - performance.now())
    this.timer = setTimeout(() => this.fire(), wait)
  }

  /** Ended, or on a timer of its own: the line's timer has nothing to do for it. */
  private settled(job: TimedJob): boolean {
    return job.done || job.own !== undefined
  }

  private fire(): void {
    this.timer = undefined
    const t = performance.now()
    while (this.head < this.running.length) {
      const job = this.running[this.head]
      if (!this.settled(job) && job.deadline > t) break
      this.head++
      if (!this.settled(job)) {
        job.done = true
        job.expire()
      }
    }
    this.arm()
  }
}

/** The run's clock and limits, as the jobs of every batch see them. */
interface RunLimits {
  now: Clock
  /** End of the budget, on `now`. */
  deadline: number
  handlerTimeoutMs: number
}

/**
 * One leased batch while it runs: its token, its rows, its running jobs, and the cutoff past
 * which none of its jobs may start or run (lease start + 80 % of the TTL, or the budget's end).
 * A lease extension moves the cutoff; rows it finds lost are remembered so they are not started,
 * and the running jobs none of whose rows is still held are stopped.
 */
class BatchLease<Row extends QueueRow> {
  /** Rows an extension found no longer held under the token. */
  lost: Set<string> | undefined
  /**
   * The job started on each row id (a batch handler's one job under every row). Jobs stay in it
   * once ended (`done`): deleting them would cost the hot path, and a batch is bounded.
   */
  readonly jobs = new Map<string, LeaseHolder>()
  readonly timeouts = new BatchTimeouts()

  constructor(
    readonly queue: LeasedQueue<Row>,
    readonly token: string,
    readonly rows: readonly Row[],
    /** On `limits.now`. */
    public cutoff: number,
    readonly limits: RunLimits,
  ) {}

  /**
   * Extends the lease of every row of the batch (one call; rows that ended are still processing
   * until the batch's ack) by `seconds`, cut so it never reaches past the budget's end. Resolves
   * to the ids still held, or null when less than a whole second of budget is left to extend by.
   * Rows done but not yet acked need the extension as much as the running ones: their ack waits
   * for the whole batch. Stops (LeaseLostError) every running job none of whose rows is held.
   */
  async extend(seconds: number): Promise<ReadonlySet<string> | null> {
    if (!this.queue.extend) throw new TypeError(`${this.queue.name} cannot extend leases`)
    const { now, deadline } = this.limits
    const at = now()
    const granted = Math.min(seconds, Math.floor((deadline - at) / 1000))
    if (granted < 1) return null
    const ids = await this.queue.extend(this.rows.map((row) => row.id), this.token, granted)
    const held = new Set(ids)
    const lost = this.lost ??= new Set()
    for (const row of this.rows) if (!held.has(row.id)) lost.add(row.id)
    // Whichever job asked, every job whose rows are all another worker's now must stop: its
    // handler would otherwise run on beside that worker's, with its signal never fired.
    for (const id of lost) {
      const job = this.jobs.get(id)
      if (job && !job.done && job.rowIds().every((rowId) => lost.has(rowId))) job.loseLease()
    }
    // The rows held are ours until at least `at + granted`: the same 80 % margin as a lease.
    if (held.size > 0) {
      const cutoff = Math.min(at + granted * 1000 * LEASE_SAFETY_FRACTION, deadline)
      this.cutoff = Math.max(this.cutoff, cutoff)
    }
    return held
  }
}

/** An extension found the job's lease lost: another worker holds its row(s) now. */
export class LeaseLostError extends Error {
  override readonly name = 'LeaseLostError'
  constructor() {
    super('lease lost: another worker holds the job now')
  }
}

/** A running job as its BatchLease sees it. */
interface LeaseHolder {
  readonly done: boolean
  /** The ids of the rows it runs on. */
  rowIds(): readonly string[]
  /** Stops it with a LeaseLostError: another worker holds all its rows now. */
  loseLease(): void
}

/** How a row an extension found lost ends if it had not started: its fail is fenced out. */
const LEASE_LOST: JobOutcome = { ok: false, error: new LeaseLostError() }

/**
 * A handler call in flight, and the JobContext its handler gets (a class, so the per-row path
 * makes one object per job and no closures). The AbortController is made only if the handler
 * reads its signal (a no-op does not); a handler that reads it after the job stopped gets one
 * already aborted.
 */
class RunningJob<W, T> implements TimedJob, JobContext, LeaseHolder {
  deadline = 0
  done = false
  own: ReturnType<typeof setTimeout> | undefined
  private controller: AbortController | undefined
  private stopped: Error | undefined
  /** When it started, on `limits.now`. */
  private readonly startedAt: number

  constructor(
    private readonly batch: BatchLease<QueueRow>,
    /** The job's row, or the batch's rows for a batch handler. */
    private readonly work: W,
    private ms: number,
    private readonly resolve: (ended: Ended<T>) => void,
  ) {
    this.startedAt = batch.limits.now()
    batch.timeouts.start(ms, this)
    if (Array.isArray(work)) {
      for (const row of work as readonly QueueRow[]) batch.jobs.set(row.id, this)
    } else batch.jobs.set((work as QueueRow).id, this)
  }

  rowIds(): readonly string[] {
    return Array.isArray(this.work)
      ? (this.work as readonly QueueRow[]).map((row) => row.id)
      : [(this.work as QueueRow).id]
  }

  loseLease(): void {
    this.done = true
    clearTimeout(this.own)
    this.stop(new LeaseLostError())
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController()
      if (this.stopped) this.controller.abort(this.stopped)
    }
    return this.controller.signal
  }

  /** The handler ended; after a stop this still runs, and is ignored (the first resolve wins). */
  end(ended: Ended<T>): void {
    this.done = true
    clearTimeout(this.own)
    this.resolve(ended)
  }

  /** Past the deadline (BatchTimeouts marked the job done). */
  expire(): void {
    this.stop(new HandlerTimeoutError(this.ms))
  }

  async extendLease(seconds: number): Promise<boolean> {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > 3600) {
      throw new RangeError(`extendLease: seconds must be an integer from 1 to 3600, got ${seconds}`)
    }
    if (this.done) return false
    const held = await this.batch.extend(seconds)
    if (held === null) return !this.done // no budget left to extend into: the deadline stands
    // Ended meanwhile, or stopped by the extension because none of its rows is held any more.
    if (this.done) return false
    const ids = this.rowIds()
    let kept = 0
    for (const id of ids) if (held.has(id)) kept++
    // The job may now run to its own handler timeout or the batch's new cutoff.
    const { now, handlerTimeoutMs } = this.batch.limits
    const until = Math.min(this.startedAt + handlerTimeoutMs, this.batch.cutoff)
    const t = now()
    if (until - t >= 1) {
      this.ms = Math.floor(until - this.startedAt)
      this.batch.timeouts.extend(this, Math.floor(until - t))
    }
    return kept === ids.length
  }

  /** Ends the job now with `error`, firing its signal, whether or not the handler stops. */
  private stop(error: Error): void {
    this.stopped = error
    this.controller?.abort(error)
    this.resolve({ ok: false, error })
  }
}

/**
 * Runs `handle(work, ctx)` (a job's row, or a whole batch) with `timeoutMs` to finish; never
 * rejects. `handle` and `work` come separately so the per-row path makes no closure per job.
 */
function runOne<W, T>(
  handle: (work: W, ctx: JobContext) => Promise<T>,
  work: W,
  batch: BatchLease<QueueRow>,
  timeoutMs: number,
): Promise<Ended<T>> {
  return new Promise<Ended<T>>((resolve) => {
    const job = new RunningJob<W, T>(batch, work, timeoutMs, resolve)
    try {
      Promise.resolve(handle(work, job)).then(
        (value) => job.end({ ok: true, value }),
        (error) => job.end({ ok: false, error }),
      )
    } catch (err) {
      job.end({ ok: false, error: err }) // a handler that throws before returning its promise
    }
  })
}

/**
 * Runs `fn` over `items` with at most `concurrency` in flight; results keep the items' order.
 * `fn` returns null to refuse an item (out of time): then no further item is started, and the
 * refused and never-started items' results are null.
 */
async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<R> | null,
): Promise<(R | null)[]> {
  const results = new Array<R | null>(items.length).fill(null)
  let next = 0
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      const run = fn(items[i])
      if (run === null) {
        next = items.length
        return
      }
      results[i] = await run
    }
  })
  await Promise.all(lanes)
  return results
}

/** One lease's outcome, as settleBatch counts it into the DrainResult. */
interface BatchTally {
  processed: number
  errors: number
  dead_lettered: number
}

/**
 * Reports one batch's outcomes: one ack call for all its successes, one fail call per group
 * of failures that share an error message and a "last attempt" flag (so the dead-letter count
 * stays exact even when part of a group is fenced out), and one release call for the rows that
 * never started (outcome null). The calls run concurrently.
 */
async function settleBatch<Row extends QueueRow>(
  queue: LeasedQueue<Row>,
  token: string,
  rows: readonly Row[],
  outcomes: readonly (JobOutcome | null)[],
  warn: (line: string) => void,
): Promise<BatchTally> {
  const succeeded: string[] = []
  const unstarted: string[] = []
  const failures = new Map<string, { error: string; lastAttempt: boolean; ids: string[] }>()
  // A failed batch hands every row the same error: describe it once.
  let described: unknown
  let text: string | undefined
  for (let i = 0; i < rows.length; i++) {
    const outcome = outcomes[i]
    if (outcome === null) {
      unstarted.push(rows[i].id)
      continue
    }
    if (outcome.ok) {
      succeeded.push(rows[i].id)
      continue
    }
    // fail_* dead-letters exactly the rows whose lease was their last allowed attempt.
    const lastAttempt = rows[i].attempts >= rows[i].max_attempts
    if (text === undefined || outcome.error !== described) {
      described = outcome.error
      text = describeJobError(described)
    }
    const key = `${lastAttempt ? 1 : 0}${text}`
    let group = failures.get(key)
    if (!group) failures.set(key, group = { error: text, lastAttempt, ids: [] })
    group.ids.push(rows[i].id)
  }
  const tally: BatchTally = { processed: 0, errors: 0, dead_lettered: 0 }
  const calls: Promise<void>[] = []
  if (succeeded.length > 0) {
    calls.push(
      queue.ack(succeeded, token).then((acked) => {
        tally.processed += acked
        if (acked < succeeded.length) {
          warn(
            `[${queue.name}] ${succeeded.length - acked} of ${succeeded.length} acks were fenced ` +
              `out: their lease expired and another worker holds them`,
          )
        }
      }),
    )
  }
  if (unstarted.length > 0) {
    calls.push(
      queue.release(unstarted, token).then((released) => {
        if (released < unstarted.length) {
          warn(
            `[${queue.name}] ${unstarted.length - released} of ${unstarted.length} releases ` +
              `were fenced out: the lease was lost`,
          )
        }
      }),
    )
  }
  for (const group of failures.values()) {
    calls.push(
      queue.fail(group.ids, token, group.error).then((failed) => {
        tally.processed += failed
        tally.errors += failed
        if (group.lastAttempt) tally.dead_lettered += failed
        if (failed < group.ids.length) {
          const which = group.ids.length === 1 ? `job ${group.ids[0]}` : `${group.ids.length} jobs`
          warn(
            `[${queue.name}] fail of ${which} was fenced out` +
              (failed > 0 ? ` for ${group.ids.length - failed} of them` : '') +
              `: the lease was lost`,
          )
        }
      }),
    )
  }
  await Promise.all(calls)
  return tally
}

/**
 * Leases batches from `queue` and runs them, until `limit` jobs have been leased, a lease comes
 * back empty, or the budget is spent: `handle` for each row with bounded concurrency, or
 * `handleBatch` once per batch. A short lease is not taken as "empty": rows other workers are
 * claiming right now are skipped, not absent.
 *
 * Time: a job's deadline is fixed when it starts, at min(start + handlerTimeoutMs, lease start +
 * 80 % of the TTL, end of the budget), and no job starts past the latter two. Rows left unstarted
 * are released (queued again, attempt restored). So the batch's one ack is sent before its lease
 * expires, and a call never outlives its budget by more than the final ack/fail round trip —
 * even when a handler ignores its signal (its job is failed with a timeout at its deadline).
 *
 * Round trips per batch: one lease, one ack for all its successes, one fail per distinct error
 * (and one release, only when time ran out).
 * The next batch's lease is sent together with the current batch's ack/fail calls (they touch
 * disjoint rows), so on the no-op path a batch costs one round trip of latency, not two. The
 * next lease is only taken once the current batch's handlers are done, never earlier: rows
 * leased while handlers of unknown length still run could find the budget spent and sit idle
 * under a lease (with an attempt used) until it expires.
 */
export async function drainQueue<Row extends QueueRow>(
  options: DrainOptions<Row>,
): Promise<DrainResult> {
  const {
    queue,
    handle,
    handleBatch,
    limit,
    ttlSeconds,
    concurrency = DRAIN_DEFAULTS.concurrency,
    handlerTimeoutMs = DRAIN_DEFAULTS.handlerTimeoutMs,
    budgetMs = DRAIN_DEFAULTS.budgetMs,
    worker,
    now = () => performance.now(),
    warn = (line: string) => console.warn(line),
    signal,
  } = options
  // Checked before anything is leased: a pool of 0 lanes would strand a whole lease.
  if ((handle === undefined) === (handleBatch === undefined)) {
    throw new TypeError('drainQueue needs exactly one of handle and handleBatch')
  }
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be an integer >= 1, got ${concurrency}`)
  }
  if (!(handlerTimeoutMs >= 1)) {
    throw new RangeError(`handlerTimeoutMs must be >= 1, got ${handlerTimeoutMs}`)
  }
  const batchSize = Math.min(options.batchSize ?? DRAIN_DEFAULTS.batchSize, limit, 1000)
  const start = now()
  const deadline = start + budgetMs
  const result: DrainResult = { processed: 0, errors: 0, dead_lettered: 0, duration_ms: 0 }
  let leased = 0

  /** The next lease, with when it was asked for; null when no more may be taken. */
  const nextLease = (): { at: number; lease: Promise<Lease<Row>> } | null => {
    if (signal?.aborted || leased >= limit || deadline - now() < MIN_BUDGET_FOR_LEASE_MS) {
      return null
    }
    const at = now()
    const request = { limit: Math.min(batchSize, limit - leased), ttlSeconds, worker, signal }
    return { at, lease: queue.lease(request) }
  }

  const limits: RunLimits = { now, deadline, handlerTimeoutMs }
  /** A job's time to run if it starts now, or null when it may not start (out of time). */
  const timeLeft = (cutoff: number): number | null => {
    if (signal?.aborted) return null
    const left = cutoff - now()
    return left < 1 ? null : Math.floor(Math.min(handlerTimeoutMs, left))
  }

  let pending = nextLease()
  while (pending !== null) {
    const lease = await pending.lease
    if (lease.token === null || lease.rows.length === 0) break
    const token = lease.token
    leased += lease.rows.length

    // The lease runs from (at the latest) when it was asked for. Every handler must end well
    // inside it (or another worker may claim its row meanwhile) and inside the budget: a job's
    // deadline is fixed when it starts (moved only by its lease extensions), and no job starts
    // once this cutoff has passed.
    const batch = new BatchLease<QueueRow>(
      queue as LeasedQueue<QueueRow>,
      token,
      lease.rows,
      Math.min(pending.at + ttlSeconds * 1000 * LEASE_SAFETY_FRACTION, deadline),
      limits,
    )
    let outcomes: readonly (JobOutcome | null)[]
    // What a batch handler threw (not a timeout): rethrown once its batch is failed.
    let thrown: { error: unknown } | undefined
    if (handle) {
      outcomes = await mapPool(lease.rows, concurrency, (row) => {
        // Another worker holds it now: failing it is fenced out, and says so in the log.
        if (batch.lost?.has(row.id)) return Promise.resolve(LEASE_LOST)
        const ms = timeLeft(batch.cutoff)
        return ms === null ? null : runOne(handle, row, batch, ms) // null: released
      })
    } else {
      const ms = timeLeft(batch.cutoff)
      const ended = ms === null ? null : await runOne(handleBatch, lease.rows, batch, ms)
      ;({ outcomes, thrown } = batchOutcomes(lease.rows.length, ended))
    }
    batch.timeouts.stop()
    // Released rows were not run: they do not count against the limit.
    let unstarted = 0
    for (const outcome of outcomes) if (outcome === null) unstarted++
    leased -= unstarted

    let tally: BatchTally
    if (unstarted === 0 && thrown === undefined) {
      // Ack/fail this batch while the next lease is on its way.
      pending = nextLease()
      ;[tally] = await Promise.all([
        settleBatch(queue, token, lease.rows, outcomes, warn),
        pending?.lease,
      ])
    } else {
      // Out of time: the release must land first, or the next lease (if the budget allows one)
      // could not see the released rows and would come back empty. After a thrown batch no
      // lease is taken at all: the run ends with its error.
      tally = await settleBatch(queue, token, lease.rows, outcomes, warn)
      pending = thrown === undefined ? nextLease() : null
    }
    result.processed += tally.processed
    result.errors += tally.errors
    result.dead_lettered += tally.dead_lettered
    if (thrown !== undefined) throw thrown.error
  }

  result.duration_ms = Math.round(now() - start)
  return result
}

/**
 * A batch handler's end as one outcome per row: its own outcomes when it resolved with one per
 * row; otherwise every row fails with its error (a timeout, or what it threw, which is also
 * returned for rethrowing). A batch that never started (`ended` null) is all unstarted.
 */
function batchOutcomes(
  rows: number,
  ended: Ended<readonly JobOutcome[]> | null,
): { outcomes: readonly (JobOutcome | null)[]; thrown?: { error: unknown } } {
  if (ended === null) return { outcomes: new Array<null>(rows).fill(null) }
  if (ended.ok && Array.isArray(ended.value) && ended.value.length === rows) {
    return { outcomes: ended.value }
  }
  const error = ended.ok
    ? new TypeError(
      `handleBatch must resolve to one outcome per row: ${rows} rows, got ` +
        (Array.isArray(ended.value) ? `${ended.value.length} outcomes` : typeof ended.value),
    )
    : ended.error
  return {
    outcomes: new Array<JobOutcome>(rows).fill({ ok: false, error }),
    thrown: error instanceof HandlerTimeoutError ? undefined : { error },
  }
}
