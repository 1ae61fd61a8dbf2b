// The leased queues from TypeScript: typed rows, lease/ack/fail through the SQL API, and
// drainQueue(), the lease → run handlers → ack/fail loop every worker function shares.
import type { Sql } from './db.ts'

// ---------------------------------------------------------------------------------------------
// Rows (mirroring supabase/migrations/20261122010000_queue_tables.sql)
// ---------------------------------------------------------------------------------------------

/** A queue row's status; mirrors the tables' check constraint. `error` is the dead-letter queue. */
export const QueueStatus = {
  queued: 'queued',
  processing: 'processing',
  done: 'done',
  error: 'error',
} as const
export type QueueStatus = typeof QueueStatus[keyof typeof QueueStatus]

/** Columns both queues share. Ids are bigint, which postgres.js returns as strings. */
export interface QueueRow {
  id: string
  status: QueueStatus
  /** Leases taken so far, this one included. */
  attempts: number
  max_attempts: number
  /** Lower runs first. */
  priority: number
  run_at: Date
  lease_token: string | null
  lease_expires_at: Date | null
  leased_by: string | null
  last_error: string | null
  created_at: Date
  updated_at: Date
}

/** A row of public.events_queue. */
export interface EventJob<P = unknown> extends QueueRow {
  topic: string
  payload: P
  dedupe_key: string | null
}

/** A row of public.marketplace_discovery_queue. */
export interface DiscoveryItem extends QueueRow {
  interest_id: string
  user_id: string
}

// ---------------------------------------------------------------------------------------------
// Queues
// ---------------------------------------------------------------------------------------------

/** What one lease call claimed: its rows (possibly none) and the token that fences them. */
export interface Lease<Row extends QueueRow> {
  /** Null when nothing was claimed. */
  token: string | null
  rows: Row[]
}

export interface LeaseRequest {
  /** Rows to claim at most, 1–1000. */
  limit: number
  /** Seconds the lease lasts, 1–3600. */
  ttlSeconds: number
  /** Recorded in leased_by, for operators. */
  worker?: string
}

/** One queue's lease/ack/fail calls. Ack and fail return how many rows they changed. */
export interface LeasedQueue<Row extends QueueRow> {
  /** For logs: the table, plus the topic for events. */
  readonly name: string
  lease(request: LeaseRequest): Promise<Lease<Row>>
  ack(ids: readonly string[], token: string): Promise<number>
  fail(ids: readonly string[], token: string, error: string): Promise<number>
}

const toLease = <Row extends QueueRow>(rows: readonly Row[]): Lease<Row> => ({
  token: rows[0]?.lease_token ?? null,
  rows: [...rows],
})

/** The jobs of one topic in public.events_queue. */
export function eventsQueue<P = unknown>(sql: Sql, topic: string): LeasedQueue<EventJob<P>> {
  return {
    name: `events_queue:${topic}`,
    async lease({ limit, ttlSeconds, worker }) {
      const rows = await sql<EventJob<P>[]>`
        select * from public.lease_events(
          p_topic => ${topic}::text,
          p_limit => ${limit}::int,
          p_ttl_seconds => ${ttlSeconds}::int,
          p_worker => ${worker ?? null}::text)`
      return toLease(rows)
    },
    async ack(ids, token) {
      const [{ n }] = await sql<{ n: number }[]>`
        select public.ack_events(
          p_ids => ${sql.array([...ids])}::bigint[],
          p_lease_token => ${token}::uuid) as n`
      return n
    },
    async fail(ids, token, error) {
      const [{ n }] = await sql<{ n: number }[]>`
        select public.fail_events(
          p_ids => ${sql.array([...ids])}::bigint[],
          p_lease_token => ${token}::uuid,
          p_error => ${error}::text) as n`
      return n
    },
  }
}

/** public.marketplace_discovery_queue. */
export function discoveryQueue(sql: Sql): LeasedQueue<DiscoveryItem> {
  return {
    name: 'marketplace_discovery_queue',
    async lease({ limit, ttlSeconds, worker }) {
      const rows = await sql<DiscoveryItem[]>`
        select * from public.lease_discovery(
          p_limit => ${limit}::int,
          p_ttl_seconds => ${ttlSeconds}::int,
          p_worker => ${worker ?? null}::text)`
      return toLease(rows)
    },
    async ack(ids, token) {
      const [{ n }] = await sql<{ n: number }[]>`
        select public.ack_discovery(
          p_ids => ${sql.array([...ids])}::bigint[],
          p_lease_token => ${token}::uuid) as n`
      return n
    },
    async fail(ids, token, error) {
      const [{ n }] = await sql<{ n: number }[]>`
        select public.fail_discovery(
          p_ids => ${sql.array([...ids])}::bigint[],
          p_lease_token => ${token}::uuid,
          p_error => ${error}::text) as n`
      return n
    },
  }
}

// ---------------------------------------------------------------------------------------------
// drainQueue
// ---------------------------------------------------------------------------------------------

/** Runs one job. Throwing (or rejecting) fails the job; the signal fires at its timeout. */
export type JobHandler<Row extends QueueRow> = (
  row: Row,
  ctx: { signal: AbortSignal },
) => Promise<void>

export interface DrainOptions<Row extends QueueRow> {
  queue: LeasedQueue<Row>
  handle: JobHandler<Row>
  /** Jobs to run at most in this call. */
  limit: number
  /** Lease length in seconds. */
  ttlSeconds: number
  /** Rows per lease call. Default min(limit, 100); at most 1000. */
  batchSize?: number
  /** Handlers running at once. Default 8. */
  concurrency?: number
  /**
   * Longest one handler may run before its job fails with a timeout. Default 30 s. Always cut
   * to 80 % of the lease (a handler outliving its lease could run twice) and to the time left
   * in the budget.
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
  /** Clock in ms, injectable for tests. Default performance.now. */
  now?: () => number
  /** Where lost leases and other surprises are reported. Default console.warn. */
  warn?: (line: string) => void
}

export interface DrainResult {
  /** Jobs whose handler ran to an end (success or failure) and whose ack or fail landed. */
  processed: number
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

/** The handler ran past its timeout; its job is failed with this message. */
export class HandlerTimeoutError extends Error {
  override readonly name = 'HandlerTimeoutError'
  constructor(readonly ms: number) {
    super(`handler timed out after ${ms} ms`)
  }
}

/** What a failed job's last_error says: the error's name, message and top of its stack. */
export function describeJobError(err: unknown): string {
  let text: string
  if (err instanceof Error) {
    text = err.stack && err.stack.includes(err.message) ? err.stack : `${err.name}: ${err.message}`
  } else {
    try {
      text = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err)
    } catch {
      text = String(err)
    }
  }
  return text.length > MAX_ERROR_LENGTH ? text.slice(0, MAX_ERROR_LENGTH) : text
}

type Outcome = { ok: true } | { ok: false; error: string }

/** Runs `handle` for one row with a timeout; never rejects. */
async function runOne<Row extends QueueRow>(
  handle: JobHandler<Row>,
  row: Row,
  timeoutMs: number,
): Promise<Outcome> {
  const controller = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => {
      const err = new HandlerTimeoutError(timeoutMs)
      controller.abort(err)
      resolve({ ok: false, error: err.message })
    }, timeoutMs)
  })
  const work = (async (): Promise<Outcome> => {
    try {
      await handle(row, { signal: controller.signal })
      return { ok: true }
    } catch (err) {
      return { ok: false, error: describeJobError(err) }
    }
  })()
  try {
    return await Promise.race([work, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight; results keep the items' order. */
async function mapPool<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i])
    }
  })
  await Promise.all(lanes)
  return results
}

/**
 * Leases batches from `queue` and runs `handle` for each row with bounded concurrency, acking
 * successes (one call per batch) and failing errors (one call per job, each with its own error),
 * until `limit` jobs have been leased, a lease comes back empty, or the budget is spent. A short
 * lease is not taken as "empty": rows other workers are claiming right now are skipped, not
 * absent.
 */
export async function drainQueue<Row extends QueueRow>(
  options: DrainOptions<Row>,
): Promise<DrainResult> {
  const {
    queue,
    handle,
    limit,
    ttlSeconds,
    concurrency = DRAIN_DEFAULTS.concurrency,
    handlerTimeoutMs = DRAIN_DEFAULTS.handlerTimeoutMs,
    budgetMs = DRAIN_DEFAULTS.budgetMs,
    worker,
    now = () => performance.now(),
    warn = (line: string) => console.warn(line),
  } = options
  const batchSize = Math.min(options.batchSize ?? DRAIN_DEFAULTS.batchSize, limit, 1000)
  const start = now()
  const deadline = start + budgetMs
  const result: DrainResult = { processed: 0, errors: 0, dead_lettered: 0, duration_ms: 0 }
  let leased = 0

  while (leased < limit && deadline - now() >= MIN_BUDGET_FOR_LEASE_MS) {
    const lease = await queue.lease({
      limit: Math.min(batchSize, limit - leased),
      ttlSeconds,
      worker,
    })
    if (lease.token === null || lease.rows.length === 0) break
    const token = lease.token
    leased += lease.rows.length

    const timeoutMs = Math.max(
      1,
      Math.floor(
        Math.min(handlerTimeoutMs, ttlSeconds * 1000 * LEASE_SAFETY_FRACTION, deadline - now()),
      ),
    )
    const outcomes = await mapPool(lease.rows, concurrency, (row) => runOne(handle, row, timeoutMs))

    const succeeded = lease.rows.filter((_, i) => outcomes[i].ok).map((row) => row.id)
    if (succeeded.length > 0) {
      const acked = await queue.ack(succeeded, token)
      result.processed += acked
      if (acked < succeeded.length) {
        warn(
          `[${queue.name}] ${succeeded.length - acked} of ${succeeded.length} acks were fenced ` +
            `out: their lease expired and another worker holds them`,
        )
      }
    }
    for (let i = 0; i < lease.rows.length; i++) {
      const outcome = outcomes[i]
      if (outcome.ok) continue
      const row = lease.rows[i]
      const failed = await queue.fail([row.id], token, outcome.error)
      if (failed === 0) {
        warn(`[${queue.name}] fail of job ${row.id} was fenced out: its lease was lost`)
        continue
      }
      result.processed += 1
      result.errors += 1
      // fail_* dead-letters exactly the rows whose lease was their last allowed attempt.
      if (row.attempts >= row.max_attempts) result.dead_lettered += 1
    }
  }

  result.duration_ms = Math.round(now() - start)
  return result
}
