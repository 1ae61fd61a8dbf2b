// `ops policy evaluate`: the off-policy estimate (public.policy_ope) beside the live policy
// health (public.vw_policy_health), the two reads docs/learning.md pairs when judging a policy.
import { type Sql, UsageError } from './connection.ts'

export interface PolicyEvaluation {
  policy: string
  since: string
  clip: number
  ope: Record<string, unknown>[]
  health: Record<string, unknown>[]
}

export function parseClip(value: string | undefined): number {
  const n = Number(value ?? '10')
  if (!Number.isFinite(n) || n < 1) {
    throw new UsageError(`--clip must be a finite number >= 1 (got ${value})`)
  }
  return n
}

export async function evaluatePolicy(
  sql: Sql,
  policy: string,
  since: string,
  clip: number,
): Promise<PolicyEvaluation> {
  if (!policy.trim()) throw new UsageError('--policy must not be empty')
  // The window is an interval the operator types ('24 hours'); one statement so `now()` is the
  // same instant for both reads.
  const ope = await sql`
    select o.* from public.policy_ope(p_policy => ${policy}::text,
                                      p_since => pg_catalog.now() - ${since}::interval,
                                      p_clip => ${clip}::real) o`
  const health = await sql`select * from public.vw_policy_health where policy = ${policy}`
  return { policy, since, clip, ope: [...ope], health: [...health] }
}

const fmt = (v: unknown) =>
  v === null || v === undefined
    ? '–'
    : typeof v === 'number' && !Number.isInteger(v)
    ? v.toFixed(4)
    : String(v)

export function formatEvaluation(e: PolicyEvaluation): string {
  const lines = [`policy ${e.policy}, last ${e.since}, weights clipped at ${e.clip}`, '']
  lines.push('off-policy estimates:')
  if (!e.ope.length) lines.push('  (no logged decisions in the window)')
  for (const r of e.ope) {
    lines.push(
      `  ${String(r.estimator).padEnd(6)} ${fmt(r.value)} [${fmt(r.ci_low)}, ${fmt(r.ci_high)}]` +
        `  n=${fmt(r.n)} ess=${fmt(r.ess)} max_w=${fmt(r.max_weight)}` +
        ` zero_p_excluded=${fmt(r.n_excluded_zero_propensity)}`,
    )
  }
  lines.push('', 'health (last 24 h):')
  if (!e.health.length) lines.push('  (no decisions in the last 24 h)')
  for (const h of e.health) {
    for (const [k, v] of Object.entries(h)) if (k !== 'policy') lines.push(`  ${k}: ${fmt(v)}`)
  }
  return lines.join('\n')
}
