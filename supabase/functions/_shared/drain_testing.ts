// Test helpers for drainQueue: queue rows and an in-memory LeasedQueue that records its calls.
import type { Lease, LeasedQueue, LeaseRequest, QueueRow } from './lease.ts'

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

export function row(id: number, attempts = 1, maxAttempts = 5): QueueRow {
  const now = new Date()
  return {
    id: String(id),
    status: 'processing',
    attempts,
    max_attempts: maxAttempts,
    priority: 0,
    run_at: now,
    lease_token: null,
    lease_expires_at: null,
    leased_by: null,
    last_error: null,
    created_at: now,
    updated_at: now,
  }
}

/**
 * A queue over `rows`; records leases, acks, fails, releases and extensions. `fenced` ids refuse
 * ack, fail, release and extend (a test adds an id to it to have the row "stolen"). Like the SQL,
 * a lease adds an attempt (in `attempts`) and a release takes it back and puts the row first in
 * line again.
 */
export function memoryQueue(rows: QueueRow[], fenced = new Set<string>()) {
  const pending = [...rows]
  const attempts = new Map(rows.map((r) => [r.id, r.attempts - 1]))
  const log = {
    leases: [] as LeaseRequest[],
    /** performance.now() of each lease and ack call, in order. */
    leaseTimes: [] as number[],
    ackTimes: [] as number[],
    acked: [] as string[],
    failed: [] as { id: string; error: string }[],
    released: [] as string[],
    /** Each extend call: the ids asked for and the seconds. */
    extends: [] as { ids: string[]; seconds: number }[],
    attempts,
    /** Every call in order: `lease`, `ack:<ids>`, `fail:<ids>`, `release:<ids>`, `extend:<ids>`. */
    calls: [] as string[],
  }
  const byId = new Map(rows.map((r) => [r.id, r]))
  let n = 0
  const queue: LeasedQueue<QueueRow> = {
    name: 'memory',
    lease(request): Promise<Lease<QueueRow>> {
      log.leases.push(request)
      log.leaseTimes.push(performance.now())
      log.calls.push('lease')
      const taken = pending.splice(0, request.limit)
      const token = `token-${++n}`
      for (const r of taken) attempts.set(r.id, attempts.get(r.id)! + 1)
      return Promise.resolve({
        token: taken.length ? token : null,
        rows: taken.map((r) => ({ ...r, attempts: attempts.get(r.id)!, lease_token: token })),
      })
    },
    release(ids) {
      log.calls.push(`release:${ids.join(',')}`)
      const ok = ids.filter((id) => !fenced.has(id))
      log.released.push(...ok)
      for (const id of ok) attempts.set(id, attempts.get(id)! - 1)
      pending.unshift(...ok.map((id) => byId.get(id)!))
      return Promise.resolve(ok.length)
    },
    ack(ids) {
      log.ackTimes.push(performance.now())
      log.calls.push(`ack:${ids.join(',')}`)
      const ok = ids.filter((id) => !fenced.has(id))
      log.acked.push(...ok)
      return Promise.resolve(ok.length)
    },
    extend(ids, _token, seconds) {
      log.calls.push(`extend:${ids.join(',')}`)
      log.extends.push({ ids: [...ids], seconds })
      return Promise.resolve(ids.filter((id) => !fenced.has(id)))
    },
    fail(ids, _token, error) {
      log.calls.push(`fail:${ids.join(',')}`)
      const ok = ids.filter((id) => !fenced.has(id))
      log.failed.push(...ok.map((id) => ({ id, error })))
      return Promise.resolve(ok.length)
    },
  }
  return { queue, log }
}

export const range = (n: number) => Array.from({ length: n }, (_, i) => row(i + 1))

/** A JobContext.extendLease for handler tests whose jobs never outlive their lease. */
export const keepLease = (_seconds: number): Promise<boolean> => Promise.resolve(true)
