// The runbook's abort switch (safe mode) and its appendix (requeue, clear the DLQ, force GC,
// the ledger), each run for real inside a transaction that is then rolled back: the statements
// and the triggers behind them are exercised, yet a smoke test never flips a kill switch users
// would see (or turns off a safe mode an operator put on), requeues or deletes anyone's jobs,
// or leaves ledger rows behind.
import type { Sql, Tx } from '../connection.ts'
import { expect } from '../checks.ts'
import type { Journey } from './journey.ts'

class RolledBack extends Error {
  constructor(readonly detail: string) {
    super('rolled back')
  }
}

/**
 * Bounds on the rolled-back transactions, which run against production: the appendix's
 * requeue and DLQ statements update and delete across a whole queue, and GC deletes in bulk,
 * so a busy table must make them give up (and the section fail) within seconds rather than
 * hold or queue for row and table locks the workers need.
 */
export const ROLLED_BACK_LOCK_TIMEOUT = '2s'
export const ROLLED_BACK_STATEMENT_TIMEOUT = '5s'

/** Runs `fn` in a transaction that is always rolled back; returns what `fn` returned. */
async function rolledBack(sql: Sql, reason: string, fn: (tx: Tx) => Promise<string>) {
  try {
    await sql.begin(async (tx) => {
      await tx`select set_config('app.actor', 'ops:smoke', true),
                      set_config('app.reason', ${reason}, true),
                      set_config('lock_timeout', ${ROLLED_BACK_LOCK_TIMEOUT}, true),
                      set_config('statement_timeout', ${ROLLED_BACK_STATEMENT_TIMEOUT}, true)`
      throw new RolledBack(await fn(tx))
    })
  } catch (err) {
    if (err instanceof RolledBack) return err.detail
    throw err
  }
  throw new Error('unreachable: the transaction always rolls back')
}

async function safeModeOn(tx: Tx): Promise<boolean> {
  const [{ on }] = await tx`select public.flag_enabled('global.safe_mode') as on`
  return on
}

/** Abort switch: enable then disable safe mode, as the runbook's two UPDATEs. */
export function safeModeToggle(j: Journey): Promise<string> {
  return rolledBack(j.sql, 'smoke test: safe-mode toggle (rolled back)', async (tx) => {
    const on = await tx`
      UPDATE public.feature_flags
      SET value = '{"enabled": true}'::jsonb, updated_at = now()
      WHERE key = 'global.safe_mode';`
    expect(on.count === 1, `enabling safe mode updated ${on.count} rows`)
    expect(await safeModeOn(tx), 'safe mode reads off after enabling it')
    const off = await tx`
      UPDATE public.feature_flags
      SET value = '{"enabled": false}'::jsonb, updated_at = now()
      WHERE key = 'global.safe_mode';`
    expect(off.count === 1, `disabling safe mode updated ${off.count} rows`)
    expect(!await safeModeOn(tx), 'safe mode reads on after disabling it')
    const ledger = await tx<{ after: { enabled: boolean } }[]>`
      select l.after from public.ai_action_ledger l
       where l.target = 'global.safe_mode' and l.actor = 'ops:smoke'
       order by l.id`
    expect(
      ledger.map((l) => l.after?.enabled).join() === 'true,false',
      `expected two ledger rows (on, off), got ${JSON.stringify(ledger.map((l) => l.after))}`,
    )
    return 'on then off, both ledgered (rolled back)'
  })
}

/** Appendix: requeue stuck items, clear the DLQ, force GC, view recent actions. */
export function appendix(j: Journey): Promise<string> {
  const user = j.user?.id
  expect(user, 'no test user: section E did not create one')
  return rolledBack(j.sql, 'smoke test: runbook appendix (rolled back)', async (tx) => {
    // Two of the test user's items made stuck and dead, so each statement has work to show.
    const [stuck] = await tx<{ id: string }[]>`
      update public.marketplace_discovery_queue q
         set status = 'processing', lease_token = gen_random_uuid(),
             lease_expires_at = now() - interval '1 minute'
       where q.user_id = ${user}
         and q.interest_id = '11111111-1111-1111-1111-111111111111'
      returning q.id`
    const [dead] = await tx<{ id: string }[]>`
      update public.marketplace_discovery_queue q
         set status = 'error', last_error = 'ops smoke'
       where q.user_id = ${user}
         and q.interest_id = '22222222-2222-2222-2222-222222222222'
      returning q.id`
    expect(stuck && dead, "the test user's discovery items are gone")

    const requeued = await tx`
      UPDATE public.marketplace_discovery_queue
      SET status = 'queued', lease_token = NULL, lease_expires_at = NULL
      WHERE status = 'processing' AND lease_expires_at < now();`
    const cleared = await tx`DELETE FROM public.marketplace_discovery_queue WHERE status = 'error';`
    const after = await tx<{ id: string; status: string }[]>`
      select q.id, q.status from public.marketplace_discovery_queue q
       where q.id in (${stuck.id}, ${dead.id})`
    expect(
      after.find((r) => r.id === stuck.id)?.status === 'queued',
      'the requeue left a stuck item stuck',
    )
    expect(!after.some((r) => r.id === dead.id), 'clearing the DLQ left a dead item')

    const [{ gc_learning_events }] = await tx`SELECT public.gc_learning_events();`
    const [{ gc_intent_signals }] = await tx`SELECT public.gc_intent_signals();`
    const recent = await tx<{ action: string }[]>`
      SELECT * FROM public.ai_action_ledger ORDER BY timestamp DESC LIMIT 20;`
    const actions = new Set(recent.map((r) => r.action))
    const unledgered = ['learning.gc_learning_events', 'learning.gc_intent_signals']
      .filter((a) => !actions.has(a))
    expect(unledgered.length === 0, `GC ran but the ledger shows no ${unledgered.join(', ')}`)
    return `requeued ${requeued.count}, cleared ${cleared.count} dead, GC removed ` +
      `${gc_learning_events} learning events and ${gc_intent_signals} intent signals, ` +
      `ledger shows ${recent.length} recent actions (rolled back)`
  })
}
