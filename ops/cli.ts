// `deno task ops <command>`: the runbooks as commands. Acts on the local dev stack by default,
// or on the project named by --db-url / --url / --anon-key / --service-key or SUPABASE_DB_URL /
// SUPABASE_URL / SUPABASE_ANON_KEY / SUPABASE_SERVICE_ROLE_KEY. Every change needs --reason
// and is written to the action ledger.
import { parseArgs } from 'node:util'
import {
  connect,
  type Operator,
  resolveTarget,
  type Sql,
  type Target,
  TARGET_OPTIONS,
  UsageError,
} from './connection.ts'
import { type Check, formatChecks, stderrProgress } from './checks.ts'
import { health, parseFailOn } from './health.ts'
import { releaseCheck } from './release_check.ts'
import { listFlags, setCanary, setSafeMode } from './flags.ts'
import {
  listDeadLetters,
  listDispatches,
  parseQueue,
  purgeDeadLetters,
  queueHealth,
  redriveDeadLetters,
  requeueExpired,
  runMaintenance,
  scaleQueue,
} from './queue.ts'
import { smoke } from './smoke.ts'
import { localToken } from './token.ts'
import { evaluatePolicy, formatEvaluation, parseClip } from './policy.ts'
import { parseDeployment, recordDeployment } from './metrics.ts'
import { BACKUP_OPTIONS, exportCommand, importCommand } from './backup/command.ts'
import { lockdownCommand } from './lockdown.ts'

const USAGE = `usage: deno task ops <command> [options]

  health [--email-domain D] [--no-signup] [--fail-on critical|warning]
                                           the daily health check: health function, health_check
                                           RPC (anon key), a throwaway sign-up (deleted after) and
                                           an RPC with its session, queue and policy health,
                                           firing alerts, cron failures, anon lockdown;
                                           --no-signup: a confirmed admin-made user instead (no
                                           mail; for pipelines against production); --fail-on:
                                           the least severe firing alert that fails (default
                                           warning; pipelines: critical)
  smoke                                    the Day-0 smoke test, sections A-H, safe-mode toggle and
                                           appendix; removes what it creates
  release-check                            RLS coverage, activity-assets storage policies, perf
                                           sanity (local stack only: skipped on a remote target,
                                           which it would write to and lock; run it locally with
                                           deno task test supabase/tests/perf_sanity.test.sql),
                                           migrations in sync, smoke
  flags                                    list feature flags
  safe-mode on [--percentage N] --reason R safe mode for everyone, or for N % of users (canary)
  safe-mode off --reason R                 safe mode off for everyone
  canary <flag> <percentage> --reason R    roll a boolean flag out to a percentage of users
  queue health                             the queue health views
  queue requeue-expired --reason R         requeue processing rows whose lease expired
  queue scale <topic> --max-parallel N --reason R
                                           most worker calls of a topic at once (1-100; the
                                           discovery queue is marketplace_discovery_queue)
  queue dispatches [<topic>] [--limit N]   the newest dispatcher ticks (default 20)
  dlq list [--limit N]                     the newest dead letters (default 20)
  dlq redrive <events|discovery> [--ids 1,2] --reason R
  dlq purge <events|discovery> [--older-than '7 days'] --reason R
  gc --reason R                            run the daily maintenance now (queues, rate limits,
                                           learning events, intent signals)
  token --user UUID [--role authenticated|service_role] [--ttl 1h]
                                           a JWT for trying the local API by hand (local only)
  policy evaluate [--policy P] [--since '24 hours'] [--clip 10]
                                           off-policy estimates and policy health
  metrics record-deployment --environment staging|production --component C --version V
                            --git-sha SHA [--status started|succeeded|failed|rolled_back] --reason R
  export [--out DIR] [--tables s.t,…]      every kernel/legacy table to DIR/export-<UTC time>/ as
                                           JSONL + manifest.json (rows, sha256), one snapshot
  export --resume FOLDER                   finish an interrupted export (done tables are kept)
  import --dry-run FOLDER                  verify an export against the database (writes nothing)
  lockdown on|off --reason R               revoke anon's grants in public (all but health_check),
                                           ledgered; off restores exactly those
  lockdown status                          whether a lockdown is on, and what anon can still use

options: --reason R (required for changes), --actor A (default ops:$USER), --json (machine output)
target:  --db-url URL --url URL --anon-key K --service-key K, or SUPABASE_DB_URL, SUPABASE_URL,
         SUPABASE_ANON_KEY, SUPABASE_SERVICE_ROLE_KEY; the local stack when none is set. A remote
         target must be complete (the database URL alone for SQL-only commands).`

/** Commands that call the project's API with its keys; the others only need the database. */
const API_COMMANDS = new Set(['health', 'smoke', 'release-check', 'token'])

/** Prints a checking command's report and returns its exit code (1 when a check failed). */
function report(title: string, checks: Check[], json: boolean, extra: object = {}): number {
  const ok = checks.every((c) => c.ok)
  if (json) print({ command: title, ok, ...extra, checks })
  else console.log(formatChecks(title, checks))
  return ok ? 0 : 1
}

function print(value: unknown) {
  console.log(JSON.stringify(value, null, 2))
}

/** A plain decimal integer: Number() would also take '', '0x10' and '1e1'. */
function int(value: string | undefined, name: string): number {
  if (value === undefined || !/^-?\d+$/.test(value.trim())) {
    throw new UsageError(`${name} must be an integer (got ${JSON.stringify(value ?? null)})`)
  }
  return Number(value)
}

const OPTIONS = {
  reason: { type: 'string', default: '' },
  actor: { type: 'string' },
  percentage: { type: 'string' },
  limit: { type: 'string', default: '20' },
  ids: { type: 'string' },
  'older-than': { type: 'string', default: '7 days' },
  'max-parallel': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean', default: false },
  user: { type: 'string' },
  role: { type: 'string' },
  ttl: { type: 'string' },
  policy: { type: 'string', default: 'epsilon_greedy_v1' },
  since: { type: 'string', default: '24 hours' },
  clip: { type: 'string', default: '10' },
  environment: { type: 'string' },
  component: { type: 'string' },
  version: { type: 'string' },
  'git-sha': { type: 'string' },
  status: { type: 'string' },
  ...BACKUP_OPTIONS,
  ...TARGET_OPTIONS,
  'email-domain': { type: 'string' },
  'no-signup': { type: 'boolean', default: false },
  'fail-on': { type: 'string' },
} as const

function parseCommandLine(argv: string[]) {
  return parseArgs({ args: argv, allowPositionals: true, options: OPTIONS })
}

/** `env` is where the SUPABASE_* target variables are read (the process's, unless a test says). */
export async function main(
  argv: string[],
  env: Record<string, string | undefined> = Deno.env.toObject(),
): Promise<number> {
  let parsed: ReturnType<typeof parseCommandLine>
  try {
    parsed = parseCommandLine(argv)
  } catch (err) {
    // node:util's parseArgs names the unknown option or the missing value.
    console.error(`ops: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  const { values, positionals } = parsed
  const [command, sub, ...rest] = positionals
  if (values.help || !command) {
    console.log(USAGE)
    return command ? 0 : 2
  }
  const op: Operator = {
    actor: values.actor ?? `ops:${Deno.env.get('USER') ?? 'operator'}`,
    reason: values.reason ?? '',
  }
  let sql: Sql | null = null
  let target!: Target
  const db = () => sql ??= connect(target.dbUrl)
  try {
    target = await resolveTarget(
      env,
      values,
      API_COMMANDS.has(command) ? 'all' : 'db',
    )
    const progress = values.json ? undefined : stderrProgress(command)
    switch (`${command}${sub && !['on', 'off'].includes(sub) ? ` ${sub}` : ''}`) {
      case 'health': {
        const failOn = parseFailOn(values['fail-on'])
        const h = await health(db(), target, {
          progress,
          emailDomain: values['email-domain'],
          signUp: !values['no-signup'],
          failOn,
        })
        return report('health', h.checks, values.json ?? false, { lockdown: h.lockdown })
      }
      case 'smoke':
        return report('smoke', await smoke(db(), target, progress), values.json ?? false)
      case 'release-check':
        return report(
          'release-check',
          await releaseCheck(db(), target, progress),
          values.json ?? false,
        )
      case 'flags':
        print(await listFlags(db()))
        return 0
      case 'safe-mode': {
        if (sub !== 'on' && sub !== 'off') throw new UsageError('safe-mode on|off')
        const pct = values.percentage === undefined
          ? undefined
          : int(values.percentage, '--percentage')
        print(await setSafeMode(db(), op, sub, pct))
        return 0
      }
      default:
        break
    }
    if (command === 'canary') {
      print(await setCanary(db(), op, sub ?? '', int(rest[0], 'percentage')))
    } else if (command === 'queue' && sub === 'health') {
      print(await queueHealth(db()))
    } else if (command === 'queue' && sub === 'requeue-expired') {
      print({ requeued: await requeueExpired(db(), op) })
    } else if (command === 'queue' && sub === 'scale') {
      if (!rest[0]) throw new UsageError('queue scale <topic> --max-parallel N --reason R')
      const n = int(values['max-parallel'], '--max-parallel')
      print(await scaleQueue(db(), op, rest[0], n))
    } else if (command === 'queue' && sub === 'dispatches') {
      print(await listDispatches(db(), rest[0] ?? null, int(values.limit, '--limit')))
    } else if (command === 'dlq' && sub === 'list') {
      print(await listDeadLetters(db(), int(values.limit, '--limit')))
    } else if (command === 'dlq' && sub === 'redrive') {
      const ids = values.ids ? values.ids.split(',').map((s) => int(s.trim(), '--ids')) : null
      print({ redriven: await redriveDeadLetters(db(), op, parseQueue(rest[0]), ids) })
    } else if (command === 'dlq' && sub === 'purge') {
      const olderThan = values['older-than'] ?? '7 days'
      print({ purged: await purgeDeadLetters(db(), op, parseQueue(rest[0]), olderThan) })
    } else if (command === 'gc') {
      const gc = await runMaintenance(db(), op)
      if (values.json) print({ maintenance: 'done', ...gc })
      else {
        console.log(
          `maintenance done: ${gc.learningEventsDeleted} learning events and ` +
            `${gc.intentSignalsDeleted} intent signals deleted`,
        )
      }
    } else if (command === 'token') {
      const t = await localToken(target, values)
      if (values.json) print(t)
      else console.log(t.token)
    } else if (command === 'policy' && sub === 'evaluate') {
      const e = await evaluatePolicy(
        db(),
        values.policy ?? '',
        values.since ?? '',
        parseClip(values.clip),
      )
      if (values.json) print(e)
      else console.log(formatEvaluation(e))
    } else if (command === 'metrics' && sub === 'record-deployment') {
      const d = parseDeployment(values)
      const id = await recordDeployment(db(), op, d)
      if (values.json) print({ id, ...d })
      else console.log(`deployment ${id}: ${d.environment} ${d.component} ${d.version} ${d.status}`)
    } else if (command === 'export') {
      return await exportCommand(db(), values)
    } else if (command === 'import') {
      return await importCommand(db(), sub, values)
    } else if (command === 'lockdown') {
      return await lockdownCommand(db(), op, sub, values.json ?? false)
    } else {
      throw new UsageError(`unknown command: ${positionals.join(' ')}`)
    }
    return 0
  } catch (err) {
    const usage = err instanceof UsageError
    // A script reading --json output gets the failure as JSON too, not an empty stdout.
    if (values.json) print({ error: (err as Error).message, usage })
    if (usage) {
      console.error(`ops: ${(err as Error).message}\n\n${USAGE}`)
      return 2
    }
    // Database refusals (a bad flag value, say) carry a message meant for the operator.
    console.error(`ops: ${(err as Error).message}`)
    return 1
  } finally {
    await (sql as Sql | null)?.end({ timeout: 2 })
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args))
