// queue-worker beside its peer and its floor, on the bench's cluster, in the same run: the
// queue-worker drain (two concurrent calls), graphile-worker with its high-throughput settings
// (1 and 2 processes), the minimal raw-SQL floor (pgbench), and a longer drain with and
// without a snapshot held open for the whole run (which keeps vacuum, and the pruning every
// index scan does on its way, from removing what the drain leaves behind). The steps of a round
// take turns going first, and each run starts from a vacuumed table, so none always inherits
// another's dead rows. Every run checks that each of its jobs ran exactly once. Figures are
// medians over the rounds; the peer and floor ratios are of the medians.
import { type BenchContext, type Figure, median, round } from '../harness.ts'
import { minimalFloorRun } from './floor.ts'
import {
  GRAPHILE_WORKER_VERSION,
  graphileWorkerRun,
  prepareGraphileWorker,
  removeGraphileWorker,
} from './graphile_worker.ts'
import { drainRun, resetQueue } from './queue_runs.ts'

const JOBS = 20_000
const CALLERS = 2
// The vacuum-blocked loss grows with the jobs that pass while the snapshot is held: every
// lease's index scan walks past the claim-index entries of all of them. 100,000 jobs is about
// five seconds of draining here; a report query or a pg_dump holds a snapshot far longer.
const VACUUM_JOBS = 100_000

type RunName = 'floor' | 'drain' | 'graphile1' | 'graphile2' | 'unblocked' | 'blocked'

export async function peerFigures(ctx: BenchContext, rounds: number): Promise<Figure[]> {
  const unavailable = await prepareGraphileWorker(ctx)
  if (unavailable) ctx.log(`queue: graphile-worker not available: ${unavailable}`)
  const runs: Record<RunName, () => Promise<number>> = {
    floor: () => minimalFloorRun(ctx, 'bench.minimal-floor', JOBS),
    drain: async () => (await drainRun(ctx, JOBS, { callers: CALLERS })).rate,
    graphile1: () => graphileWorkerRun(ctx, 1, JOBS),
    graphile2: () => graphileWorkerRun(ctx, 2, JOBS),
    unblocked: async () => (await drainRun(ctx, VACUUM_JOBS, { callers: CALLERS })).rate,
    blocked: async () =>
      (await drainRun(ctx, VACUUM_JOBS, { callers: CALLERS, holdSnapshot: true })).rate,
  }
  // The steps of a round rotate; the vacuum pair runs back to back, in turns, so its ratio
  // compares runs made under the same machine load.
  const steps: RunName[][] = [
    ['floor'],
    ['drain'],
    ...(unavailable ? [] : [['graphile1'], ['graphile2']] as RunName[][]),
    ['unblocked', 'blocked'],
  ]
  const rates = Object.fromEntries(steps.flat().map((n) => [n, [] as number[]])) as Record<
    RunName,
    number[]
  >
  try {
    // queue-worker's process and its database pool are warm in production; the first call of
    // the bench would otherwise pay for both.
    await drainRun(ctx, 2_000, { callers: CALLERS })
    for (let r = 0; r < rounds; r++) {
      const k = r % steps.length
      const order = [...steps.slice(k), ...steps.slice(0, k)]
        .flatMap((step) => r % 2 ? [...step].reverse() : step)
      for (const name of order) {
        await resetQueue(ctx)
        rates[name].push(await runs[name]())
      }
      ctx.log(
        `queue: peers round ${r + 1}/${rounds}: ` +
          order.map((n) => `${n} ${Math.round(rates[n][r])}`).join(', ') + ' jobs/s',
      )
    }
  } finally {
    await resetQueue(ctx)
    await removeGraphileWorker(ctx)
  }
  const m = (n: RunName) => rates[n]?.length ? median(rates[n]) : NaN
  const floor = m('floor')
  const drain = m('drain')
  const graphileBest = Math.max(m('graphile1'), m('graphile2'))
  const unblocked = m('unblocked')
  const blocked = m('blocked')
  // Paired by round: each pair ran back to back.
  const loss = median(rates.blocked.map((b, i) => 100 * (1 - b / rates.unblocked[i])))
  const ofFloor = (v: number) => `${round((100 * v) / floor, 1)} % of floor`
  const na = unavailable ? `n/a: ${unavailable}` : undefined
  const gwSettings = 'concurrentJobs 24, localQueue 500, completeJobBatchDelay 0, maxPoolSize 25'
  return [
    {
      name: 'queue minimal floor: pgbench claim<=100 SKIP LOCKED + token-guarded done, 4 clients',
      value: Math.round(floor),
      unit: 'jobs/s',
      target: 'info',
      ok: true,
      note: '20,000 jobs; prepared statements, two durable commits per batch',
    },
    ...[1, 2].map((p): Figure => ({
      name: `queue graphile-worker ${GRAPHILE_WORKER_VERSION}, ${p} process${p > 1 ? 'es' : ''}`,
      value: Math.round(m(p === 1 ? 'graphile1' : 'graphile2')),
      unit: 'jobs/s',
      target: 'info',
      ok: true,
      note: na ?? `${ofFloor(m(p === 1 ? 'graphile1' : 'graphile2'))}; ${gwSettings}`,
    })),
    {
      name: `queue-worker drain, ${CALLERS} concurrent calls, 20,000 no-op jobs`,
      value: Math.round(drain),
      unit: 'jobs/s',
      target: 'info',
      ok: true,
      note: `${ofFloor(drain)}; via the gateway, limit 1000 per call`,
    },
    {
      name: `queue-worker (${CALLERS} calls) vs graphile-worker's best`,
      value: round(drain / graphileBest),
      unit: 'x',
      target: '>= 1.5x',
      ok: drain >= 1.5 * graphileBest,
      note: na ?? `best ${Math.round(graphileBest)} jobs/s`,
    },
    {
      name: `queue-worker (${CALLERS} calls) vs minimal floor`,
      value: round((100 * drain) / floor, 1),
      unit: '%',
      target: '>= 70 %',
      ok: drain >= 0.7 * floor,
    },
    {
      name: `queue-worker drain, ${CALLERS} calls, 100,000 jobs`,
      value: Math.round(unblocked),
      unit: 'jobs/s',
      target: 'info',
      ok: true,
    },
    {
      name: `queue-worker drain, ${CALLERS} calls, 100,000 jobs, snapshot held (vacuum blocked)`,
      value: Math.round(blocked),
      unit: 'jobs/s',
      target: 'info',
      ok: true,
      note: 'a REPEATABLE READ session open from before the first call to after the last',
    },
    {
      name: 'queue drain loss with vacuum blocked',
      value: round(loss, 1),
      unit: '%',
      target: '<= 20 %',
      ok: loss <= 20,
      note: "median of the rounds' paired losses",
    },
  ]
}
