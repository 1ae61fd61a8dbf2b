// The leased queues from TypeScript: typed rows, enqueueing, and lease/ack/fail/release/extend
// through the SQL API.
import type { Sql } from './db.ts'
import { runCancellable } from './drain.ts'

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
  /** Cancels the lease query when it fires (the caller went away): nothing is then leased. */
  signal?: AbortSignal
}

/**
 * One queue's lease/ack/fail/release calls. Ack, fail and release return how many rows they
 * changed (all three are fenced by the lease token).
 */
export interface LeasedQueue<Row extends QueueRow> {
  /** For logs: the table, plus the topic for events. */
  readonly name: string
  lease(request: LeaseRequest): Promise<Lease<Row>>
  ack(ids: readonly string[], token: string): Promise<number>
  fail(ids: readonly string[], token: string, error: string): Promise<number>
  /** Hands leased rows that never started back to the queue, their attempt not consumed. */
  release(ids: readonly string[], token: string): Promise<number>
  /**
   * Pushes the lease of the given rows to at least `seconds` (1–3600) from now, never shortening
   * it; resolves to the ids it extended (the others are no longer this lease's). Optional so a
   * stand-in queue in a test need not have it; drainQueue's `ctx.extendLease` needs it.
   */
  extend?(ids: readonly string[], token: string, seconds: number): Promise<string[]>
}

const toLease = <Row extends QueueRow>(rows: readonly Row[]): Lease<Row> => ({
  token: rows[0]?.lease_token ?? null,
  rows: [...rows],
})

/**
 * ack / fail / release / extend: the same token-fenced calls on either queue, whose SQL functions
 * differ only by suffix (`ack_events`, `ack_discovery`, `extend_events_lease`, …). Named
 * arguments and explicit casts, as every call into SQL here.
 */
function fencedCalls(sql: Sql, suffix: 'events' | 'discovery') {
  const fn = (verb: 'ack' | 'fail' | 'release') => sql(`${verb}_${suffix}`)
  const count = async (rows: Promise<{ n: number }[]>) => (await rows)[0].n
  return {
    ack: (ids: readonly string[], token: string) =>
      count(sql<{ n: number }[]>`
        select public.${fn('ack')}(
          p_ids => ${sql.array([...ids])}::bigint[],
          p_lease_token => ${token}::uuid) as n`),
    fail: (ids: readonly string[], token: string, error: string) =>
      count(sql<{ n: number }[]>`
        select public.${fn('fail')}(
          p_ids => ${sql.array([...ids])}::bigint[],
          p_lease_token => ${token}::uuid,
          p_error => ${error}::text) as n`),
    release: (ids: readonly string[], token: string) =>
      count(sql<{ n: number }[]>`
        select public.${fn('release')}(
          p_ids => ${sql.array([...ids])}::bigint[],
          p_lease_token => ${token}::uuid) as n`),
    // The ids come back as one jsonb array of strings: a bigint[] may arrive as its raw text on
    // a connection that has not learned array types yet.
    extend: async (ids: readonly string[], token: string, seconds: number) =>
      (await sql<{ ids: string[] }[]>`
        select coalesce(jsonb_agg(e.id::text), '[]'::jsonb) as ids
          from public.${sql(`extend_${suffix}_lease`)}(
            p_ids => ${sql.array([...ids])}::bigint[],
            p_token => ${token}::uuid,
            p_seconds => ${seconds}::int) as e`)[0].ids,
  }
}

/** The jobs of one topic in public.events_queue. */
export function eventsQueue<P = unknown>(sql: Sql, topic: string): LeasedQueue<EventJob<P>> {
  return {
    name: `events_queue:${topic}`,
    async lease({ limit, ttlSeconds, worker, signal }) {
      const rows = await runCancellable(signal, () =>
        sql<EventJob<P>[]>`
          select * from public.lease_events(
            p_topic => ${topic}::text,
            p_limit => ${limit}::int,
            p_ttl_seconds => ${ttlSeconds}::int,
            p_worker => ${worker ?? null}::text)`)
      return toLease(rows)
    },
    ...fencedCalls(sql, 'events'),
  }
}

/** public.marketplace_discovery_queue. */
export function discoveryQueue(sql: Sql): LeasedQueue<DiscoveryItem> {
  return {
    name: 'marketplace_discovery_queue',
    async lease({ limit, ttlSeconds, worker, signal }) {
      const rows = await runCancellable(signal, () =>
        sql<DiscoveryItem[]>`
          select * from public.lease_discovery(
            p_limit => ${limit}::int,
            p_ttl_seconds => ${ttlSeconds}::int,
            p_worker => ${worker ?? null}::text)`)
      return toLease(rows)
    },
    ...fencedCalls(sql, 'discovery'),
  }
}

// ---------------------------------------------------------------------------------------------
// Enqueueing
// ---------------------------------------------------------------------------------------------

/** One job for enqueueEvents. */
export interface EnqueueItem<P = unknown> {
  /** Stored as jsonb; must serialise with JSON.stringify. */
  payload: P
  /** While a queued or processing job of the topic holds this key, that job is returned instead. */
  dedupeKey?: string | null
  /** Not claimable before this. Default: now. */
  runAt?: Date | null
}

export interface EnqueueOptions {
  /** Leases allowed before the job is dead-lettered, 1–100. Default 5. */
  maxAttempts?: number
  /** Lower runs first. Default 0. */
  priority?: number
}

/**
 * Adds `items` to `topic` in one statement (public.enqueue_events) and resolves to their job ids
 * in the items' order. Dedupe is enqueue_event's, per item: a key an active job of the topic
 * holds gives that job's id, and a key repeated in `items` is enqueued once (the first item's
 * payload) with its id at each of its positions. At most 100,000 items a call.
 */
export async function enqueueEvents<P = unknown>(
  sql: Sql,
  topic: string,
  items: readonly EnqueueItem<P>[],
  { maxAttempts = 5, priority = 0 }: EnqueueOptions = {},
): Promise<string[]> {
  if (items.length === 0) return []
  // Arrays travel as JSON text (a string bound to jsonb would be encoded twice) and become SQL
  // arrays in order; all-null columns are passed as null, as the SQL function's defaults are.
  const column = (pick: (item: EnqueueItem<P>) => string | null) => {
    const values = items.map(pick)
    return values.some((v) => v !== null) ? JSON.stringify(values) : null
  }
  const keys = column((item) => item.dedupeKey ?? null)
  const runAts = column((item) => item.runAt?.toISOString() ?? null)
  const [{ ids }] = await sql<{ ids: string[] }[]>`
    select to_jsonb(public.enqueue_events(
      p_topic => ${topic}::text,
      p_payloads => ${JSON.stringify(items.map((item) => item.payload))}::text::jsonb,
      p_dedupe_keys => (select array_agg(k.v order by k.i)
                          from jsonb_array_elements_text(${keys}::text::jsonb)
                               with ordinality as k(v, i)),
      p_run_at => (select array_agg(r.v::timestamptz order by r.i)
                     from jsonb_array_elements_text(${runAts}::text::jsonb)
                          with ordinality as r(v, i)),
      p_max_attempts => ${maxAttempts}::int,
      p_priority => ${priority}::int)::text[]) as ids`
  return ids
}
