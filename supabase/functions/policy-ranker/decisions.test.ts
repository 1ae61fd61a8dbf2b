// decisions.ts against the real test database: candidate ids reach the scoring function intact
// from a fresh client's first queries, and the decision log's transaction (and only its
// transaction) commits with synchronous_commit off.
import assert from 'node:assert/strict'
import { testStackEnv } from '../../../local/testing.ts'
import { createDb } from '../_shared/db.ts'
import { type DecisionLog, logDecision, scoreCandidates, textArrayLiteral } from './decisions.ts'
import { epsilonGreedySlate } from './slate.ts'
import { seededRandom } from './testing.ts'

const env = testStackEnv()

function decision(): DecisionLog {
  const scored = Array.from({ length: 5 }, (_, i) => ({ id: `log-test-${i}`, score: 1 - i / 10 }))
  return {
    decisionId: crypto.randomUUID(),
    userId: crypto.randomUUID(),
    surface: 'feed',
    policy: 'epsilon_greedy_v1',
    slots: epsilonGreedySlate(scored, 3, 0.1, seededRandom(7)),
  }
}

Deno.test('the decision log commits asynchronously, in its own transaction only', async () => {
  // One connection, so the setting read below is the one the log ran on. Durable commits for
  // this session first: the throwaway test cluster turns them off for everyone.
  const sql = createDb(env.dbUrl, { max: 1 })
  const log = decision()
  try {
    await sql`set synchronous_commit = on`
    assert.equal(await logDecision(sql, log), 3)
    const [{ n }] = await sql<{ n: number }[]>`
      select count(*)::int as n from public.learning_events where decision_id = ${log.decisionId}`
    assert.equal(n, 3, 'every slot is written')
    const [{ setting }] = await sql<{ setting: string }[]>`
      select current_setting('synchronous_commit') as setting`
    assert.equal(setting, 'on', "the setting does not outlive the statement's transaction")

    // Inside a transaction the setting is visible after the call: it is what COMMIT reads.
    const other = decision()
    const inTx = await sql.begin(async (tx) => {
      await logDecision(tx, other)
      const [row] = await tx<{ setting: string }[]>`
        select current_setting('synchronous_commit') as setting`
      return row.setting
    })
    assert.equal(inTx, 'off', 'the logging transaction commits with synchronous_commit off')
    await sql`delete from public.learning_events where decision_id = ${other.decisionId}`
  } finally {
    await sql`delete from public.learning_events where decision_id = ${log.decisionId}`
    await sql.end()
  }
})

const AWKWARD_IDS = ['plain', 'with "quotes"', 'back\\slash', 'comma,brace{}', ' spaced ', 'NULL']

Deno.test('candidate ids reach ranker_candidate_scores intact, even on a fresh client', async () => {
  // A fresh client and two queries at once: the second opens its own connection, as /rank's
  // scoring does beside the rate-limit check.
  const sql = createDb(env.dbUrl, { max: 2 })
  try {
    const [, scored] = await Promise.all([
      sql`select pg_sleep(0.05)`,
      scoreCandidates(sql, crypto.randomUUID(), AWKWARD_IDS),
    ])
    assert.deepEqual(scored.map((c) => c.id).sort(), [...AWKWARD_IDS].sort())
    const [{ ids }] = await sql<{ ids: string[] }[]>`
      select to_jsonb(${textArrayLiteral(AWKWARD_IDS)}::text[]) as ids`
    assert.deepEqual(ids, AWKWARD_IDS, 'the literal keeps order and every character')
  } finally {
    await sql.end()
  }
})
