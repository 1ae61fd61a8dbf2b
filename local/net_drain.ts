// The pg_net stand-in's worker: sends the HTTP requests that `net.http_get/post/delete`
// queued, and records each outcome in net._http_response, as pg_net's background worker does.
// Queue rows become visible only when their transaction commits, so nothing is sent for a
// transaction that rolled back. A NOTIFY (also delivered only on commit) wakes the drain at
// once; a slow poll catches anything queued while it was not listening.
import type postgres from 'postgres'

type Sql = postgres.Sql

interface QueuedRequest {
  id: string
  method: string
  url: string
  headers: Record<string, string> | null
  body: Uint8Array | null
  timeout_milliseconds: number
}

export interface NetDrainOptions {
  pollMs?: number
  /** Requests in flight at once. */
  concurrency?: number
  /** pg_net keeps responses for 6 hours by default. */
  responseTtlSeconds?: number
  log?: (line: string) => void
}

export interface NetDrain {
  stop(): Promise<void>
}

const CLAIM_SQL = `
  delete from net.http_request_queue
   where id in (select id from net.http_request_queue order by id
                limit $1::int for update skip locked)
  returning id::text, method, url, headers, body, timeout_milliseconds`

const RECORD_SQL = `
  insert into net._http_response
    (id, status_code, content_type, headers, content, timed_out, error_msg)
  values ($1::bigint, $2::int, $3::text, $4::text::jsonb, $5::text, $6::boolean, $7::text)
  on conflict (id) do nothing`

export async function startNetDrain(sql: Sql, opts: NetDrainOptions = {}): Promise<NetDrain> {
  const pollMs = opts.pollMs ?? 1000
  const concurrency = opts.concurrency ?? 32
  const ttl = opts.responseTtlSeconds ?? 6 * 3600
  const log = opts.log ?? (() => {})
  let stopped = false
  let inFlight = 0
  let pumping: Promise<void> | null = null
  const sending = new Set<Promise<void>>()
  let lastErrorLogAt = 0
  let again = false

  async function send(req: QueuedRequest): Promise<void> {
    const timeoutMs = req.timeout_milliseconds ?? 5000
    try {
      const res = await fetch(req.url, {
        method: req.method,
        headers: req.headers ?? {},
        body: req.method === 'GET' || !req.body ? undefined : new Uint8Array(req.body),
        signal: AbortSignal.timeout(timeoutMs),
      })
      const content = await res.text()
      await sql.unsafe(RECORD_SQL, [
        req.id,
        res.status,
        res.headers.get('content-type'),
        JSON.stringify(Object.fromEntries(res.headers)),
        content,
        false,
        null,
      ])
    } catch (err) {
      const timedOut = err instanceof DOMException &&
        (err.name === 'TimeoutError' || err.name === 'AbortError')
      const message = timedOut
        ? `Timeout of ${timeoutMs} ms reached`
        : (err instanceof Error ? err.message : String(err))
      log(`net request ${req.id} to ${req.url} failed: ${message}`)
      await sql.unsafe(RECORD_SQL, [req.id, null, null, null, null, timedOut, message])
        .catch(() => {})
    }
  }

  async function pumpOnce(): Promise<void> {
    do {
      again = false
      while (!stopped) {
        const room = concurrency - inFlight
        if (room <= 0) break
        const claimed = await sql.unsafe<QueuedRequest[]>(CLAIM_SQL, [room])
        if (claimed.length === 0) break
        for (const req of claimed) {
          inFlight++
          const p: Promise<void> = send(req).finally(() => {
            inFlight--
            sending.delete(p)
            kick()
          })
          sending.add(p)
        }
      }
    } while (again && !stopped)
  }

  function kick(): void {
    if (stopped) return
    if (pumping) {
      again = true
      return
    }
    pumping = pumpOnce().catch((err) => {
      // While the database is down this fails on every poll; say so once a minute, not always.
      if (Date.now() - lastErrorLogAt > 60_000) {
        lastErrorLogAt = Date.now()
        log(`net drain error: ${err.message}`)
      }
    }).finally(() => {
      pumping = null
      if (again) kick()
    })
  }

  const listener = await sql.listen('net_http_request_queue', () => kick())
  const poll = setInterval(kick, pollMs)
  const cleanup = setInterval(() => {
    sql.unsafe(`delete from net._http_response where created < now() - make_interval(secs => $1)`, [
      ttl,
    ]).catch(() => {})
  }, 60_000)
  kick()

  return {
    async stop() {
      stopped = true
      clearInterval(poll)
      clearInterval(cleanup)
      await listener.unlisten().catch(() => {})
      await pumping
      // Rows already claimed get their response row before the connection goes away; each
      // send is bounded by its own timeout.
      await Promise.allSettled([...sending])
    },
  }
}
