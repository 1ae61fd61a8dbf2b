// Request spans: one row in public.kernel_spans per function request (and per RPC through the
// local gateway), written off the response path. A request only pushes its span into a bounded
// buffer; the buffer is drained in the background in batches through ops.record_spans, so a slow
// or failing database costs the request nothing and loses spans, counted, instead.
import { type Batcher, createBatcher } from './batcher.ts'
import type { Sql } from './db.ts'

/** One span, as ops.record_spans takes it. */
export interface Span {
  /** What the SLO views group by: the function's name, or `rpc.<fn>` for an RPC. */
  path: string
  function?: string
  /** The matched route pattern (never the raw URL, which would make paths unbounded). */
  route?: string
  status?: number
  duration_ms: number
  /** Whether the request counts as good for the availability objective: no 5xx. */
  ok: boolean
  /** ISO timestamp of when the request started; the database's now() when left out. */
  at?: string
}

/** What is known about an answered request when its span is made. */
export interface AnsweredRequest {
  path: string
  function: string
  route: string
  status: number
  /** Time to the response, milliseconds. */
  durationMs: number
  /** Arrival, epoch milliseconds. */
  startedAt: number
}

// ops.record_spans refuses a whole batch for one span outside its bounds, so a span is made to
// fit them: routes of at most 200 characters, durations of at most an hour.
const MAX_ROUTE_LENGTH = 200
const MAX_DURATION_MS = 3_600_000

/**
 * The span of one answered request. It counts against the availability objective only when the
 * server failed (5xx): a 4xx is the caller's mistake, not an outage.
 */
export function requestSpan(request: AnsweredRequest): Span {
  return {
    path: request.path,
    function: request.function,
    route: request.route.slice(0, MAX_ROUTE_LENGTH),
    status: request.status,
    // Microsecond resolution is plenty, and keeps the batch's JSON short.
    duration_ms: Math.min(Math.round(request.durationMs * 1000) / 1000, MAX_DURATION_MS),
    ok: request.status < 500,
    at: new Date(request.startedAt).toISOString(),
  }
}

/** Writes one batch of spans. */
export type SpanWriter = (spans: Span[]) => Promise<void>

export interface SpanRecorder {
  /** Queues one span. Never throws and never waits. */
  record(span: Span): void
  /** Resolves once every span recorded so far has been written or given up on. */
  flush(): Promise<void>
  /** Running totals: sent, dropped (buffer full), failed (write failed), buffered. */
  readonly stats: Batcher<Span>['stats']
}

export interface SpanRecorderOptions {
  /** Default: sqlSpanWriter over the recorder's connection. */
  write: SpanWriter
  /** Spans held while the database is slow or down. Default 5000 (~1 MB). */
  maxBuffer?: number
  /** Spans per ops.record_spans call. Default 500 (the function accepts up to 1000). */
  batchSize?: number
  /** Longest a write may take. Default 5000 ms. */
  timeoutMs?: number
  /** Runs the background flush. Default background.ts's waitUntil. */
  schedule?: (work: Promise<unknown>) => void
}

// ops.record_spans refuses more than this many spans in one call.
export const MAX_SPANS_PER_CALL = 1000

export function createSpanRecorder(options: SpanRecorderOptions): SpanRecorder {
  const batcher = createBatcher<Span>({
    write: options.write,
    maxBuffer: options.maxBuffer ?? 5000,
    batchSize: Math.min(options.batchSize ?? 500, MAX_SPANS_PER_CALL),
    timeoutMs: options.timeoutMs ?? 5000,
    schedule: options.schedule,
    label: 'spans',
  })
  return {
    record(span) {
      batcher.push(span)
    },
    flush: () => batcher.flush(),
    stats: batcher.stats,
  }
}

export interface SqlSpanWriterOptions {
  /**
   * Role to write as, for a connection that is not the owner's (the local gateway connects as
   * `authenticator`, which may become service_role). Default: the connection's own role.
   */
  role?: 'service_role'
}

/** Writes spans with one ops.record_spans call per batch. */
export function sqlSpanWriter(sql: Sql, { role }: SqlSpanWriterOptions = {}): SpanWriter {
  if (role === undefined) {
    return async (spans) => {
      await sql`select ops.record_spans(p_spans => ${JSON.stringify(spans)}::text::jsonb)`
    }
  }
  return async (spans) => {
    await sql.begin(async (tx) => {
      await tx`select set_config('role', ${role}::text, true)`
      await tx`select ops.record_spans(p_spans => ${JSON.stringify(spans)}::text::jsonb)`
    })
  }
}

/** A recorder that discards everything, for apps built without a database worth writing to. */
export const NO_SPANS: SpanRecorder = {
  record() {},
  flush: () => Promise.resolve(),
  stats: Object.freeze({ buffered: 0, sent: 0, dropped: 0, failed: 0 }),
}
