// Off-policy evaluation end to end: decisions made by slate.ts under epsilon 0.2 against known
// true reward rates are logged as the ranker logs them, and public.policy_ope must estimate the
// greedy policy's value (known analytically) with 95 % intervals that cover it. Seeded, so the
// run is reproducible: a failure is a bug, not bad luck.
import assert from 'node:assert/strict'
import { adminSql } from '../../../local/testing.ts'
import { epsilonGreedySlate, type Slot } from './slate.ts'
import { seededRandom } from './testing.ts'

// Scores put sim-b first, so the greedy policy's true value is sim-b's rate: 0.6.
const TRUE_RATES: Record<string, number> = {
  'sim-a': 0.9,
  'sim-b': 0.6,
  'sim-c': 0.5,
  'sim-d': 0.3,
  'sim-e': 0.1,
}
const SCORES = [
  { id: 'sim-a', score: 0.4 },
  { id: 'sim-b', score: 0.8 },
  { id: 'sim-c', score: 0.5 },
  { id: 'sim-d', score: 0.3 },
  { id: 'sim-e', score: 0.2 },
]
const GREEDY_VALUE = TRUE_RATES['sim-b']
const EPSILON = 0.2
const DECISIONS = 4000

interface Logged {
  decision_id: string
  candidate_id: string
  p_exp: number
  explored: boolean
  score: number
  reward: number
  context: Slot['context']
}

function simulate(seed: number): Logged[] {
  const random = seededRandom(seed)
  const rows: Logged[] = []
  for (let d = 0; d < DECISIONS; d++) {
    const [slot] = epsilonGreedySlate(SCORES, 1, EPSILON, random)
    const reward = random() < TRUE_RATES[slot.candidate_id] ? 1 : 0
    rows.push({ decision_id: crypto.randomUUID(), ...slot, reward })
  }
  return rows
}

interface OpeRow {
  estimator: string
  value: number
  ci_low: number
  ci_high: number
  n: number
  ess: number
  max_weight: number
  mean_weight: number
}

async function logAndEvaluate(rows: Logged[], policy: string): Promise<Map<string, OpeRow>> {
  const sql = adminSql()
  try {
    const since = new Date(Date.now() - 60_000)
    await sql`
      insert into public.learning_events (
        decision_id, user_id, surface, candidate_id, position, policy, p_exp, score, explored,
        reward, rewarded_at, context)
      select r.decision_id, ${crypto.randomUUID()}::uuid, 'sim', r.candidate_id, 0, ${policy},
             r.p_exp, r.score, r.explored, r.reward, now(), r.context
      from jsonb_to_recordset(${JSON.stringify(rows)}::text::jsonb) as r(
        decision_id uuid, candidate_id text, p_exp real, score real, explored boolean,
        reward real, context jsonb)`
    const ope = await sql<OpeRow[]>`
      select estimator, value, ci_low, ci_high, n::int as n, ess, max_weight, mean_weight
      from public.policy_ope(p_policy => ${policy}::text, p_since => ${since}::timestamptz)`
    return new Map(ope.map((r) => [r.estimator, r]))
  } finally {
    await sql`delete from public.learning_events where policy = ${policy}`
    await sql.end()
  }
}

Deno.test("IPS, SNIPS and DR intervals cover the greedy policy's known value", async () => {
  const estimates = await logAndEvaluate(simulate(2024), `sim_${crypto.randomUUID()}`)
  assert.deepEqual([...estimates.keys()].sort(), ['dr', 'ips', 'snips'])
  for (const [name, e] of estimates) {
    assert.equal(e.n, DECISIONS, `${name}: every rewarded slot is used`)
    assert.ok(
      e.ci_low <= GREEDY_VALUE && GREEDY_VALUE <= e.ci_high,
      `${name}: ${e.value.toFixed(4)} [${e.ci_low.toFixed(4)}, ${e.ci_high.toFixed(4)}] ` +
        `misses ${GREEDY_VALUE}`,
    )
    assert.ok(e.ci_high - e.ci_low < 0.1, `${name}: the interval is informative`)
    // Right propensities make the mean importance weight 1 in expectation.
    assert.ok(Math.abs(e.mean_weight - 1) < 0.05, `${name}: mean weight ${e.mean_weight}`)
    // Greedy slots weigh 1 / (1 − ε + ε/K) = 1 / 0.84; explored ones 0.
    assert.ok(Math.abs(e.max_weight - 1 / (1 - EPSILON + EPSILON / 5)) < 1e-5)
  }
})

Deno.test('mis-logged propensities show up in the mean importance weight', async () => {
  // A logging bug: every slot claims p_exp 0.5 whatever was placed.
  const wrong = simulate(7).map((r) => ({ ...r, p_exp: 0.5 }))
  const estimates = await logAndEvaluate(wrong, `sim_${crypto.randomUUID()}`)
  const ips = estimates.get('ips')!
  assert.ok(Math.abs(ips.mean_weight - 1) > 0.4, `mean weight ${ips.mean_weight} looks healthy`)
})
