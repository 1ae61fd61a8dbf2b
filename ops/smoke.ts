// The smoke test of the runbook as one command: the public health endpoint, the RPC an uptime
// monitor calls, and a job through the queue-worker (enqueue an `ops.noop`, drain it, see it
// done). Each check reports pass/fail with what it saw; the command fails if any check fails.
import type { Sql, Target } from './connection.ts'

export interface Check {
  name: string
  ok: boolean
  detail: string
}

async function check(name: string, fn: () => Promise<string>): Promise<Check> {
  try {
    return { name, ok: true, detail: await fn() }
  } catch (err) {
    return { name, ok: false, detail: (err as Error).message }
  }
}

function expect(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message)
}

export async function smoke(sql: Sql, target: Target): Promise<Check[]> {
  return [
    await check('health function answers 200 with the database ok', async () => {
      const res = await fetch(`${target.apiUrl}/functions/v1/health`)
      const body = await res.json()
      expect(res.status === 200, `status ${res.status}: ${JSON.stringify(body.database)}`)
      expect(body.database?.status === 'ok', `database ${body.database?.status}`)
      return `database ${body.database.version}, ${body.database.latency_ms} ms`
    }),
    await check('health_check RPC answers with the anon key', async () => {
      const res = await fetch(`${target.apiUrl}/rest/v1/rpc/health_check`, {
        method: 'POST',
        headers: {
          apikey: target.anonKey,
          authorization: `Bearer ${target.anonKey}`,
          'content-type': 'application/json',
        },
        body: '{}',
      })
      const body = await res.json()
      expect(res.status === 200, `status ${res.status}: ${JSON.stringify(body)}`)
      return `${body.rls?.tables_without_rls?.length ?? '?'} tables without RLS`
    }),
    await check('a job goes through the queue-worker', async () => {
      const [{ id }] = await sql`
        select public.enqueue_event(p_topic => 'ops.noop', p_payload => '{"smoke": true}') as id`
      const res = await fetch(`${target.apiUrl}/functions/v1/queue-worker`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${target.serviceRoleKey}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ topic: 'ops.noop', limit: 100, ttl: 30 }),
      })
      const body = await res.json()
      expect(res.status === 200, `status ${res.status}: ${JSON.stringify(body)}`)
      const [row] = await sql`select status from public.events_queue where id = ${id}`
      expect(row?.status === 'done', `job ${id} is ${row?.status ?? 'missing'}`)
      return `job ${id} done; worker processed ${body.processed}`
    }),
  ]
}
