// What a worker call does for the dispatcher that posted it (ops.dispatch_worker): its body
// carries a `call_id`, and before answering the worker records its own result under that id,
// so the next ticks size their fan-out from the rate calls really reached.
import { z } from 'zod'
import type { Sql } from './db.ts'

/** The dispatch topic of rocker-discovery-run's calls (queue-worker's are their events topic). */
export const DISCOVERY_DISPATCH_TOPIC = 'marketplace_discovery_queue'

/** The body field the dispatcher adds to each call it posts; absent on calls made by hand. */
export const callIdField = z.uuid({ error: 'must be a UUID' }).optional()

/** The part of a drain's result the dispatcher sizes its fan-out from. */
export interface CallResult {
  processed: number
  errors: number
  duration_ms: number
}

/**
 * Writes a dispatched call's result (ops.record_dispatch_call; the first write wins) under the
 * topic the call drained (the body's topic, or 'marketplace_discovery_queue'): a call_id posted
 * for another topic records nothing, so no caller can write over another topic's rate. Never
 * throws: the call's jobs are done whether or not this lands, so a failure is only logged and
 * the call still answers with its result (the dispatcher then counts it as answered through
 * pg_net and measures the rate from the other calls).
 */
export async function recordCallResult(
  sql: Sql,
  callId: string,
  topic: string,
  result: CallResult,
  warn: (line: string) => void = (line) => console.warn(line),
): Promise<void> {
  try {
    await sql`
      select ops.record_dispatch_call(
        p_call_id => ${callId}::uuid,
        p_topic => ${topic}::text,
        p_processed => ${result.processed}::int,
        p_errors => ${result.errors}::int,
        p_duration_ms => ${result.duration_ms}::int)`
  } catch (err) {
    warn(`dispatch call ${callId}: result not recorded: ${(err as Error).message}`)
  }
}
