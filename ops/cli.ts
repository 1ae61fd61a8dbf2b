// `deno task ops <command>`: the runbooks as commands. Acts on the local dev stack by default,
// or on the project named by SUPABASE_DB_URL / SUPABASE_URL / SUPABASE_ANON_KEY /
// SUPABASE_SERVICE_ROLE_KEY. Every change needs --reason and is written to the action ledger.
import { parseArgs } from 'node:util'
import { connect, type Operator, resolveTarget, type Sql, UsageError } from './connection.ts'
import { listFlags, setCanary, setSafeMode } from './flags.ts'
import {
  listDeadLetters,
  parseQueue,
  purgeDeadLetters,
  queueHealth,
  redriveDeadLetters,
  requeueExpired,
  runMaintenance,
} from './queue.ts'
import { smoke } from './smoke.ts'
import { localToken } from './token.ts'
import { evaluatePolicy, formatEvaluation, parseClip } from './policy.ts'
import { parseDeployment, recordDeployment } from './metrics.ts'

const USAGE = `usage: deno task ops <command> [options]

  health                                   GET /functions/v1/health (exit 1 unless 200)
  smoke                                    health, the health_check RPC, a job through queue-worker
  flags                                    list feature flags
  safe-mode on [--percentage N] --reason R safe mode for everyone, or for N % of users (canary)
  safe-mode off --reason R                 safe mode off for everyone
  canary <flag> <percentage> --reason R    roll a boolean flag out to a percentage of users
  queue health                             the queue health views
  queue requeue-expired --reason R         requeue processing rows whose lease expired
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

options: --reason R (required for changes), --actor A (default ops:$USER), --json (machine output)`

function print(value: unknown) {
  console.log(JSON.stringify(value, null, 2))
}

function int(value: string | undefined, name: string): number {
  const n = Number(value)
  if (value === undefined || !Number.isInteger(n)) {
    throw new UsageError(`${name} must be an integer`)
  }
  return n
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      reason: { type: 'string', default: '' },
      actor: { type: 'string' },
      percentage: { type: 'string' },
      limit: { type: 'string', default: '20' },
      ids: { type: 'string' },
      'older-than': { type: 'string', default: '7 days' },
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
    },
  })
  const [command, sub, ...rest] = positionals
  if (values.help || !command) {
    console.log(USAGE)
    return command ? 0 : 2
  }
  const target = await resolveTarget(Deno.env.toObject())
  const op: Operator = {
    actor: values.actor ?? `ops:${Deno.env.get('USER') ?? 'operator'}`,
    reason: values.reason ?? '',
  }
  let sql: Sql | null = null
  const db = () => sql ??= connect(target.dbUrl)
  try {
    switch (`${command}${sub && !['on', 'off'].includes(sub) ? ` ${sub}` : ''}`) {
      case 'health': {
        const res = await fetch(`${target.apiUrl}/functions/v1/health`)
        print(await res.json())
        return res.status === 200 ? 0 : 1
      }
      case 'smoke': {
        const checks = await smoke(db(), target)
        for (const c of checks) console.log(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`)
        return checks.every((c) => c.ok) ? 0 : 1
      }
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
    } else {
      throw new UsageError(`unknown command: ${positionals.join(' ')}`)
    }
    return 0
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`ops: ${err.message}\n\n${USAGE}`)
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
