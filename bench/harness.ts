// Shared pieces of `deno task bench`: a figure type that carries its own target, timing
// helpers, and the stack a bench runs against.
import type postgres from 'postgres'

export interface Figure {
  name: string
  /** The median over the bench's repetitions. */
  value: number
  unit: string
  target: string
  ok: boolean
  note?: string
}

export interface BenchContext {
  apiUrl: string
  dbUrl: string
  dbPort: number
  /** The cluster's PostgreSQL binary folder (pgbench lives there). */
  pgBinDir: string
  anonKey: string
  serviceRoleKey: string
  /** Superuser connection for arranging data. */
  sql: postgres.Sql
  log: (line: string) => void
}

export interface Bench {
  name: string
  run(ctx: BenchContext): Promise<Figure[]>
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[idx]
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50)
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}

export interface PgbenchResult {
  /** Transactions per second, connection time excluded. */
  tps: number
  /** Transactions pgbench actually processed, over all clients. */
  transactions: number
}

/**
 * Runs `script` with pgbench, `clients` connections on as many threads, for `seconds` or for
 * `transactionsPerClient` each (extended protocol, like postgres.js with prepare: false, unless
 * `protocol` says `prepared`: each statement planned once per connection). A C client leaves
 * the figure to the database, where a Deno client on the same two cores would mostly measure
 * itself. `vars` become pgbench variables (`-D name=value`, read as `:name`).
 */
export async function pgbench(
  ctx: BenchContext,
  script: string,
  opts:
    & { clients: number; vars?: Record<string, string>; protocol?: 'extended' | 'prepared' }
    & ({ seconds: number } | { transactionsPerClient: number }),
): Promise<PgbenchResult> {
  const file = await Deno.makeTempFile({ suffix: '.sql' })
  await Deno.writeTextFile(file, script)
  const length = 'seconds' in opts
    ? ['-T', String(opts.seconds)]
    : ['-t', String(opts.transactionsPerClient)]
  const vars = Object.entries(opts.vars ?? {}).flatMap(([k, v]) => ['-D', `${k}=${v}`])
  try {
    const out = await new Deno.Command(`${ctx.pgBinDir}/pgbench`, {
      args: [
        '-h',
        '127.0.0.1',
        '-p',
        String(ctx.dbPort),
        '-U',
        'postgres',
        '-n',
        '-M',
        opts.protocol ?? 'extended',
        '-c',
        String(opts.clients),
        '-j',
        String(opts.clients),
        ...length,
        ...vars,
        '-f',
        file,
        'postgres',
      ],
      env: { PGPASSWORD: new URL(ctx.dbUrl).password },
      stdout: 'piped',
      stderr: 'piped',
    }).output()
    const text = new TextDecoder().decode(out.stdout)
    if (!out.success) {
      throw new Error(`pgbench failed:\n${text}\n${new TextDecoder().decode(out.stderr)}`)
    }
    return {
      tps: Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(text)?.[1]),
      transactions: Number(/number of transactions actually processed: (\d+)/.exec(text)?.[1]),
    }
  } finally {
    await Deno.remove(file)
  }
}
