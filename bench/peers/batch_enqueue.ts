// Batch enqueue beside its floor: public.enqueue_events with 1,000 payloads against a plain
// `insert … select` of the same 1,000 rows from the same JSON array, one statement and one
// commit each, taking turns on one connection. enqueue_events does more (dedupe, ids in input
// order), and the target bounds what that costs.
import { createDb } from '../../supabase/functions/_shared/db.ts'
import { type BenchContext, type Figure, median, round } from '../harness.ts'

const ITEMS = 1_000
const REPS = 30
const WARMUP = 5

export async function batchEnqueueFigures(ctx: BenchContext): Promise<Figure[]> {
  const name = `queue enqueue_events(${ITEMS.toLocaleString('en')} payloads) vs insert…select`
  const [{ present }] = await ctx.sql<{ present: boolean }[]>`
    select exists (
      select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
       where n.nspname = 'public' and p.proname = 'enqueue_events') as present`
  if (!present) {
    return [{
      name,
      value: NaN,
      unit: 'x',
      target: '<= 2x',
      ok: false,
      note: 'n/a (enqueue_events missing)',
    }]
  }
  const payloads = Array.from({ length: ITEMS }, (_, i) => ({ i, kind: 'bench' }))
  const client = createDb(ctx.dbUrl, { max: 1 })
  const batch = async () => {
    const t0 = performance.now()
    const [{ n }] = await client<{ n: number }[]>`
      select pg_catalog.cardinality(public.enqueue_events(
        p_topic => 'bench.enqueue-batch', p_payloads => ${client.json(payloads)}::jsonb)) as n`
    const ms = performance.now() - t0
    if (n !== ITEMS) throw new Error(`enqueue_events returned ${n} ids for ${ITEMS} payloads`)
    return ms
  }
  const plain = async () => {
    const t0 = performance.now()
    const { count } = await client`
      insert into public.events_queue (topic, payload)
      select 'bench.enqueue-plain', e.value
        from jsonb_array_elements(${client.json(payloads)}::jsonb) e`
    const ms = performance.now() - t0
    if (count !== ITEMS) throw new Error(`insert…select added ${count} rows`)
    return ms
  }
  const times = { batch: [] as number[], plain: [] as number[] }
  try {
    for (let i = 0; i < WARMUP; i++) {
      await batch()
      await plain()
    }
    for (let i = 0; i < REPS; i++) {
      if (i % 2 === 0) {
        times.batch.push(await batch())
        times.plain.push(await plain())
      } else {
        times.plain.push(await plain())
        times.batch.push(await batch())
      }
    }
  } finally {
    await client.end({ timeout: 0 })
    await ctx.sql`delete from public.events_queue where topic like 'bench.enqueue-%'`
  }
  const b = median(times.batch)
  const p = median(times.plain)
  return [{
    name,
    value: round(b / p),
    unit: 'x',
    target: '<= 2x',
    ok: b <= 2 * p,
    note: `median ${round(b)} vs ${round(p)} ms, incl. commit; ${REPS} calls each, taking turns`,
  }]
}
