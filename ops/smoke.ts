// `ops smoke`: the Day-0 runbook's 15-minute smoke test as one command, section by section
// (A schema and RLS … H learning heartbeat, then the abort switch and the appendix), one check
// per section, in the runbook's order. Whatever it creates it removes at the end, pass or fail
// (the `cleanup` check says so); the abort switch and appendix run in rolled-back transactions.
import type { Sql, Target } from './connection.ts'
import { type Check, type Progress, QUIET, runCheck } from './checks.ts'
import { learningViews, queueHealth, schemaAndRls, seedCounts } from './smoke/read_only.ts'
import {
  cleanup,
  type Journey,
  learningHeartbeat,
  runWorker,
  userJourney,
  workerEffects,
} from './smoke/journey.ts'
import { appendix, safeModeToggle } from './smoke/rolled_back.ts'

/** The sections in order; each check is named after its section. */
export const SMOKE_SECTIONS: [string, (j: Journey) => Promise<string>][] = [
  ['A schema and RLS', (j) => schemaAndRls(j.sql)],
  ['B queue health', (j) => queueHealth(j.sql)],
  ['C learning system alive', (j) => learningViews(j.sql)],
  ['D seed data', (j) => seedCounts(j.sql)],
  ['E simulated user journey', userJourney],
  ['F queue-worker over HTTP', runWorker],
  ['G worker effects', workerEffects],
  ['H learning heartbeat', learningHeartbeat],
  ['safe-mode toggle', safeModeToggle],
  ['appendix: requeue, DLQ, GC, ledger', appendix],
]

export async function smoke(sql: Sql, target: Target, progress: Progress = QUIET) {
  const journey: Journey = { sql, target, user: null }
  const checks: Check[] = []
  try {
    for (const [name, section] of SMOKE_SECTIONS) {
      checks.push(await runCheck(name, () => section(journey), progress))
    }
  } finally {
    checks.push(await runCheck('cleanup', () => cleanup(journey), progress))
  }
  return checks
}
