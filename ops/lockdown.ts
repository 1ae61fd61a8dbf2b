// `ops lockdown on|off|status`: the security-incident response (revoke anon's access to
// schema public) as a reversible command. The work is done by ops.lockdown_on / lockdown_off
// in one transaction each, so the SQL editor and the CLI do exactly the same thing; the CLI
// names the operator in the ledger (app.actor / app.reason) and prints what changed. What `off`
// restores is kept in ops.anon_lockdown_grants, which only the owner can write; the ledger rows
// are the audit copy.
import { asOperator, type Operator, type Sql, UsageError } from './connection.ts'

export interface Grant {
  kind: 'table' | 'sequence' | 'column' | 'routine' | 'default'
  object: string
  column?: string
  for_role?: string
  privilege: string
  grantable: boolean
  /** Who gave anon the privilege: the same privilege from two grantors is two grants. */
  grantor: string
}

export interface LockdownOn {
  active: true
  already_on: boolean
  revoked: Grant[]
  still_granted: Grant[]
  still_reachable: string[]
  ledger_id: number | null
}

export interface LockdownOff {
  active: false
  restored: Grant[]
  skipped: Grant[]
  ledger_id: number
}

export interface LockdownStatus {
  active: boolean
  since: string | null
  actor: string | null
  reason: string | null
  ledger_ids: number[]
  revoked: Grant[]
  still_reachable: string[]
}

export async function lockdownOn(sql: Sql, op: Operator): Promise<LockdownOn> {
  return await asOperator(sql, op, async (tx) => {
    const [{ r }] = await tx`select ops.lockdown_on(p_reason => ${op.reason}::text) as r`
    return r as LockdownOn
  })
}

export async function lockdownOff(sql: Sql, op: Operator): Promise<LockdownOff> {
  return await asOperator(sql, op, async (tx) => {
    const [{ r }] = await tx`select ops.lockdown_off(p_reason => ${op.reason}::text) as r`
    return r as LockdownOff
  })
}

export async function lockdownStatus(sql: Sql): Promise<LockdownStatus> {
  const [{ r }] = await sql`select ops.lockdown_status() as r`
  return r as LockdownStatus
}

export function describeGrant(g: Grant): string {
  const suffix = (g.grantable ? ' (with grant option)' : '') + ` [from ${g.grantor}]`
  switch (g.kind) {
    case 'column':
      return `${g.privilege} (${g.column}) on ${g.object}${suffix}`
    case 'default':
      return `default ${g.privilege} on new ${g.object} of ${g.for_role}${suffix}`
    default:
      return `${g.privilege} on ${g.kind} ${g.object}${suffix}`
  }
}

const list = (grants: Grant[]) => grants.map((g) => `  ${describeGrant(g)}`)

/** Whether the lockdown left anon with nothing but health_check (else the CLI exits 1). */
export const lockdownComplete = (r: LockdownOn) => r.still_reachable.length === 0

export function formatLockdown(r: LockdownOn | LockdownOff | LockdownStatus): string {
  const lines: string[] = []
  if ('already_on' in r) {
    lines.push(
      r.already_on && r.ledger_id === null
        ? 'lockdown was already on; anon had gained nothing since'
        : `lockdown on: revoked ${r.revoked.length} grant(s) from anon (ledger #${r.ledger_id})`,
      ...list(r.revoked),
    )
    if (r.still_granted.length) {
      lines.push(
        "not revoked (another grantor's, or a grant option anon passed on to another role, " +
          'which only REVOKE … CASCADE takes):',
        ...list(r.still_granted),
      )
    }
    if (r.still_reachable.length) {
      lines.push(
        "WARNING anon can still use (grants to PUBLIC, or another grantor's):",
        ...r.still_reachable.map((s) => `  ${s}`),
      )
    }
  } else if ('restored' in r) {
    lines.push(
      `lockdown off: restored ${r.restored.length} grant(s) to anon (ledger #${r.ledger_id})`,
      ...list(r.restored),
    )
    if (r.skipped.length) {
      lines.push('skipped (object dropped during the lockdown):', ...list(r.skipped))
    }
  } else {
    lines.push(
      r.active
        ? `lockdown ON since ${r.since} by ${r.actor}: ${r.reason} (${r.revoked.length} grant(s) revoked)`
        : 'lockdown off',
    )
    if (r.still_reachable.length) {
      lines.push('anon can use:', ...r.still_reachable.map((s) => `  ${s}`))
    }
  }
  return lines.join('\n')
}

/** `lockdown on|off|status`: prints the result; exit 1 when `on` left anon something to use. */
export async function lockdownCommand(
  sql: Sql,
  op: Operator,
  mode: string | undefined,
  json: boolean,
): Promise<number> {
  const show = (r: LockdownOn | LockdownOff | LockdownStatus) =>
    console.log(json ? JSON.stringify(r, null, 2) : formatLockdown(r))
  if (mode === 'on') {
    const r = await lockdownOn(sql, op)
    show(r)
    return lockdownComplete(r) ? 0 : 1
  }
  if (mode === 'off') show(await lockdownOff(sql, op))
  else if (mode === 'status') show(await lockdownStatus(sql))
  else throw new UsageError('lockdown on|off|status')
  return 0
}
