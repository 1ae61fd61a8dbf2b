// `ops health`: the daily checks of the Day-0 runbook and the daily health check script of the
// monitoring runbook, as checks: the health function, the health_check RPC with the anon key
// (as an uptime monitor calls it), a sign-up with a throwaway address and an authenticated RPC
// with its session (the user is deleted afterwards), queue and policy health, firing alerts,
// cron → function failures, and whether an anon lockdown is in force.
import { type Sql, type Target, UsageError } from './connection.ts'
import { type Check, expect, type Progress, QUIET, runCheck } from './checks.ts'
import {
  apiClient,
  createConfirmedUser,
  deleteUser,
  throwawayCredentials,
} from './throwaway_user.ts'

/**
 * The least severe alert that fails the check (`--fail-on`): `warning` (the default) fails on
 * warning and critical alerts, as an operator's daily look should; `critical` lets a
 * pipeline's post-deploy check pass through warnings, which it reports but cannot act on.
 * `info` alerts never fail.
 */
export const FAIL_ON = ['critical', 'warning'] as const
export type FailOn = typeof FAIL_ON[number]

const FAILING_SEVERITIES: Record<FailOn, Set<string>> = {
  critical: new Set(['critical']),
  warning: new Set(['critical', 'warning']),
}

export function parseFailOn(value: string | undefined): FailOn {
  const v = value ?? 'warning'
  if (!(FAIL_ON as readonly string[]).includes(v)) {
    throw new UsageError(`--fail-on must be ${FAIL_ON.join(' or ')}, got ${JSON.stringify(v)}`)
  }
  return v as FailOn
}

export interface HealthOptions {
  progress?: Progress
  /** Domain of the throwaway sign-up address (default example.com). */
  emailDomain?: string
  /**
   * false: skip the public sign-up (which may send a confirmation mail, and Supabase's built-in
   * mailer sends few an hour) and sign in as a confirmed user made with the admin API instead.
   * For automated runs against production, such as the deploy workflow.
   */
  signUp?: boolean
  /** The least severe firing alert that fails the check (default warning). */
  failOn?: FailOn
}

interface SignUp {
  userIds: string[]
  accessToken: string | null
  userId: string | null
  lockdown: { active?: boolean; since?: string | null } | null
}

async function healthFunction(target: Target): Promise<string> {
  const res = await fetch(`${target.apiUrl}/functions/v1/health`)
  const text = await res.text()
  expect(
    res.status === 200,
    `GET /functions/v1/health answered ${res.status}: ${text.slice(0, 300)}`,
  )
  const body = JSON.parse(text)
  expect(body.database?.status === 'ok', `database ${body.database?.status ?? 'missing'}`)
  return `app ${body.app?.version ?? '?'}, database ${body.database.version}, ` +
    `${body.database.latency_ms} ms`
}

/** The runbook's curl: POST /rest/v1/rpc/health_check with the anon key as apikey and bearer. */
async function healthCheckRpc(target: Target, state: SignUp): Promise<string> {
  const res = await fetch(`${target.apiUrl}/rest/v1/rpc/health_check`, {
    method: 'POST',
    headers: {
      apikey: target.anonKey,
      Authorization: `Bearer ${target.anonKey}`,
      'Content-Type': 'application/json',
    },
  })
  const text = await res.text()
  expect(res.status === 200, `health_check answered ${res.status}: ${text.slice(0, 300)}`)
  const body = JSON.parse(text)
  expect(body.app?.status === 'ok', `app status ${body.app?.status ?? 'missing'}`)
  const withoutRls: string[] = body.rls?.tables_without_rls ?? []
  expect(withoutRls.length === 0, `tables without RLS: ${withoutRls.join(', ')}`)
  state.lockdown = body.rls?.anon_lockdown ?? null
  return `app ok (${body.app.version}), ${body.rls?.policy_count ?? '?'} policies, ` +
    `RLS on every table`
}

/**
 * The monitoring runbook's registration test: supabase-js signUp against /auth/v1/signup. With
 * email confirmations on there is no session yet (the address receives nothing to confirm), so
 * the authenticated step signs in as a confirmed throwaway user made with the admin API.
 */
async function signUp(target: Target, state: SignUp, domain?: string): Promise<string> {
  const creds = throwawayCredentials('health-check', domain)
  const { data, error } = await apiClient(target, target.anonKey).auth.signUp(creds)
  if (data?.user) state.userIds.push(data.user.id)
  expect(!error, `sign-up failed: ${error?.message}`)
  expect(data.user, 'sign-up returned no user')
  if (data.session) {
    state.accessToken = data.session.access_token
    state.userId = data.user.id
    return `${creds.email} signed up with a session`
  }
  const email = await signInConfirmed(target, state, domain)
  return `${creds.email} signed up (confirmation pending); signed in as ${email}`
}

/** Signs in as a confirmed throwaway user made with the admin API: no mail is sent. */
async function signInConfirmed(target: Target, state: SignUp, domain?: string): Promise<string> {
  const confirmed = await createConfirmedUser(target, 'health-check', domain)
  state.userIds.push(confirmed.id)
  const signIn = await apiClient(target, target.anonKey).auth.signInWithPassword(confirmed)
  expect(!signIn.error && signIn.data.session, `sign-in failed: ${signIn.error?.message}`)
  state.accessToken = signIn.data.session.access_token
  state.userId = confirmed.id
  return confirmed.email
}

/** An RPC only a signed-in user may make for themselves: their marketplace suggestions. */
async function authenticatedRpc(target: Target, state: SignUp): Promise<string> {
  expect(state.accessToken && state.userId, 'no session: the sign-up failed')
  const { data, error } = await apiClient(target, target.anonKey, state.accessToken)
    .rpc('marketplace_suggestions_for_user', { p_user_id: state.userId, p_limit: 12 })
  expect(!error, `marketplace_suggestions_for_user as the user failed: ${error?.message}`)
  expect(Array.isArray(data), 'marketplace_suggestions_for_user returned no list')
  return `marketplace_suggestions_for_user as the user: ${data.length} suggestions`
}

async function queueHealth(sql: Sql): Promise<string> {
  const rows = await sql<{ queue: string; status: string; items: string; p95: string }[]>`
    select 'discovery' as queue, h.status, h.items, h.p95_age_sec as p95
      from public.vw_discovery_queue_health h
    union all
    select 'events', h.status, sum(h.items), max(h.p95_age_sec)
      from public.vw_events_queue_health h group by h.status`
  const line = (queue: string) =>
    `${queue}: ` + (rows.filter((r) => r.queue === queue && Number(r.items) > 0)
      .map((r) => `${r.status} ${r.items}${r.status === 'queued' ? ` (p95 ${r.p95} s)` : ''}`)
      .join(', ') || 'empty')
  return `${line('discovery')}; ${line('events')}`
}

async function policyHealth(sql: Sql): Promise<string> {
  const rows = await sql`SELECT * FROM public.vw_policy_health;`
  if (!rows.length) return 'no decisions in the last 24 h'
  return rows.map((r) =>
    `${r.policy}: ${r.decisions} decisions, exploration ${Number(r.exploration_rate).toFixed(3)}` +
    ` (ε ${Number(r.epsilon).toFixed(3)})`
  ).join('; ')
}

async function firingAlerts(sql: Sql, failOn: FailOn): Promise<string> {
  const firing = await sql<{ rule: string; severity: string; detail: string }[]>`
    select a.rule, a.severity, a.detail from public.vw_alerts a where a.firing order by 2, 1`
  const failing = firing.filter((a) => FAILING_SEVERITIES[failOn].has(a.severity))
  expect(
    failing.length === 0,
    `firing: ${failing.map((a) => `${a.rule} (${a.severity}: ${a.detail})`).join('; ')}`,
  )
  if (!firing.length) return 'none'
  return `firing below --fail-on ${failOn}: ` +
    firing.map((a) => `${a.rule} (${a.severity})`).join(', ')
}

async function cronFailures(sql: Sql): Promise<string> {
  const jobs = await sql<{ jobname: string; failures_1h: string; runs_1h: string }[]>`
    select c.jobname, c.failures_1h, c.runs_1h, c.last_http_status
      from public.vw_cron_health c order by c.jobname`
  const failing = jobs.filter((j) => Number(j.failures_1h) > 0)
  expect(
    failing.length === 0,
    `failed in the last hour: ${
      failing.map((j) => `${j.jobname} ${j.failures_1h}/${j.runs_1h}`).join(', ')
    }`,
  )
  const runs = jobs.reduce((n, j) => n + Number(j.runs_1h), 0)
  return `${jobs.length} jobs, ${runs} runs in the last hour, no failures`
}

/** Reported, never failed: a lockdown is an operator's decision, and health must say so. */
function lockdown(state: SignUp): Promise<string> {
  const l = state.lockdown
  if (!l) return Promise.resolve('not reported by health_check')
  return Promise.resolve(l.active ? `ON since ${l.since}: anon is shut out` : 'off')
}

/** Deletes every throwaway user, each tried even when one fails; fails naming what is left. */
export async function removeUsers(sql: Sql, target: Target, userIds: string[]): Promise<string> {
  if (!userIds.length) return 'nothing was created'
  const left: string[] = []
  for (const id of userIds) {
    try {
      await deleteUser(target, sql, id)
    } catch (err) {
      left.push(`${id} (${err instanceof Error ? err.message : String(err)})`)
    }
  }
  const deleted = userIds.length - left.length
  expect(
    left.length === 0,
    `deleted ${deleted} of ${userIds.length} throwaway user(s); left: ${left.join('; ')}`,
  )
  return `deleted ${deleted} throwaway user(s)`
}

export async function health(sql: Sql, target: Target, opts: HealthOptions = {}) {
  const progress = opts.progress ?? QUIET
  const state: SignUp = { userIds: [], accessToken: null, userId: null, lockdown: null }
  const checks: Check[] = []
  const run = async (name: string, fn: () => Promise<string>) =>
    checks.push(await runCheck(name, fn, progress))
  try {
    await run('health function', () => healthFunction(target))
    await run('health_check RPC (anon key)', () => healthCheckRpc(target, state))
    if (opts.signUp === false) {
      await run(
        'signed-in user (admin API, no sign-up)',
        async () => `signed in as ${await signInConfirmed(target, state, opts.emailDomain)}`,
      )
    } else {
      await run('sign-up (throwaway address)', () => signUp(target, state, opts.emailDomain))
    }
    await run('authenticated RPC', () => authenticatedRpc(target, state))
    await run('queue health', () => queueHealth(sql))
    await run('policy health', () => policyHealth(sql))
    await run('firing alerts', () => firingAlerts(sql, opts.failOn ?? 'warning'))
    await run('cron → function failures', () => cronFailures(sql))
    await run('anon lockdown', () => lockdown(state))
  } finally {
    await run('cleanup', () => removeUsers(sql, target, state.userIds))
  }
  return { checks, lockdown: state.lockdown }
}
