// graphile-worker as the queue bench's peer: installed with npm into a git-ignored folder
// (never a package.json where Deno would resolve the project's imports), run by Node with the
// settings of its performance page, on the bench's own cluster.
import { fileURLToPath } from 'node:url'
import { STACK_DIR } from '../../local/paths.ts'
import type { BenchContext } from '../harness.ts'

/**
 * The newest release at the time of writing. Its package.json asks for Node >= 22.18, but it
 * runs unchanged on the Node 20 these machines have (npm only warns), so the bench uses it.
 */
export const GRAPHILE_WORKER_VERSION = '0.18.0'

const PEERS_DIR = `${STACK_DIR}/peers`
const RUNNER = fileURLToPath(new URL('./graphile_worker_node.mjs', import.meta.url))
const READY_TIMEOUT_MS = 60_000
const DRAIN_TIMEOUT_MS = 300_000

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, { args, env, stdout: 'piped', stderr: 'piped' })
    .output()
  const text = (b: Uint8Array) => new TextDecoder().decode(b)
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${text(out.stdout)}${text(out.stderr)}`)
  }
  return text(out.stdout)
}

async function installedVersion(): Promise<string | null> {
  try {
    const pkg = await Deno.readTextFile(`${PEERS_DIR}/node_modules/graphile-worker/package.json`)
    return JSON.parse(pkg).version
  } catch {
    return null
  }
}

/**
 * Installs the pinned graphile-worker (once; about 10 s) and its schema in the bench database.
 * Returns null when ready, else why it cannot run here (no Node/npm, no registry), so the bench
 * prints the peer's figures as not available instead of failing the other figures.
 */
export async function prepareGraphileWorker(
  ctx: BenchContext,
): Promise<string | null> {
  try {
    if (await installedVersion() !== GRAPHILE_WORKER_VERSION) {
      ctx.log(`queue: installing graphile-worker@${GRAPHILE_WORKER_VERSION} into ${PEERS_DIR}`)
      await Deno.mkdir(PEERS_DIR, { recursive: true })
      await run('npm', [
        'install',
        '--prefix',
        PEERS_DIR,
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        '--save-exact',
        `graphile-worker@${GRAPHILE_WORKER_VERSION}`,
      ])
    }
    await run('node', [RUNNER, PEERS_DIR, 'migrate'], { DATABASE_URL: ctx.dbUrl })
    return null
  } catch (e) {
    return e instanceof Error ? e.message.split('\n')[0] : String(e)
  }
}

/** Drops graphile-worker's schema, so later benches see the database as the project left it. */
export async function removeGraphileWorker(ctx: BenchContext) {
  await ctx.sql`drop schema if exists graphile_worker cascade`
}

/** One Node process running graphile-worker; its stdout is read line by line. */
class WorkerProcess {
  readonly #child: Deno.ChildProcess
  readonly #lines: AsyncIterator<string>
  readonly #stderr: Promise<string>

  constructor(dbUrl: string) {
    this.#child = new Deno.Command('node', {
      args: [RUNNER, PEERS_DIR, 'work'],
      env: { DATABASE_URL: dbUrl },
      stdin: 'piped',
      stdout: 'piped',
      stderr: 'piped',
    }).spawn()
    this.#lines = lines(this.#child.stdout)
    this.#stderr = new Response(this.#child.stderr).text()
  }

  async ready() {
    const first = await withTimeout(this.#lines.next(), READY_TIMEOUT_MS, 'graphile-worker start')
    if (first.done || first.value !== 'ready') {
      throw new Error(`graphile-worker did not start: ${await this.#stderr}`)
    }
  }

  /**
   * Stops it gracefully (stdin closed); the ids of the jobs its task ran, and when (epoch ms)
   * it ran the last one.
   */
  async stop(): Promise<{ ran: string[]; lastRanAt: number }> {
    await this.#child.stdin.close()
    const last = await this.#lines.next()
    const status = await this.#child.status
    const stderr = await this.#stderr
    if (last.done || !status.success) {
      throw new Error(`graphile-worker exited with ${status.code}: ${stderr}`)
    }
    // The runner's logger prefixes graphile-worker's own errors; anything else (Node's
    // warnings) is not the peer failing.
    const errors = stderr.split('\n').filter((l) => l.startsWith('graphile-worker '))
    if (errors.length) throw new Error(`graphile-worker reported errors:\n${errors.join('\n')}`)
    return JSON.parse(last.value)
  }

  kill() {
    try {
      this.#child.kill('SIGKILL')
    } catch { /* already gone */ }
  }
}

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = ''
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk
    let nl: number
    while ((nl = buffered.indexOf('\n')) >= 0) {
      yield buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
    }
  }
  if (buffered) yield buffered
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Adds `jobs` noop jobs with one add_jobs call (one commit, one notification); their ids. */
async function addJobs(ctx: BenchContext, jobs: number): Promise<string[]> {
  const [{ ids }] = await ctx.sql<{ ids: string[] }[]>`
    select array_agg(j.id::text) as ids
      from graphile_worker.add_jobs(array(
        select row('noop', '{}'::json, null, null, null, null, null, null)::graphile_worker.job_spec
          from generate_series(1, ${jobs}::int))) j`
  return ids
}

/**
 * Waits until graphile-worker's jobs table is empty (it deletes each job it completes). Polled
 * slowly, so the polling takes next to nothing from the peer: the time is taken from the
 * processes' own clocks.
 */
async function drained(ctx: BenchContext) {
  const deadline = performance.now() + DRAIN_TIMEOUT_MS
  for (;;) {
    const [{ left }] = await ctx.sql<{ left: boolean }[]>`
      select exists (select 1 from graphile_worker._private_jobs) as left`
    if (!left) return
    if (performance.now() > deadline) throw new Error('graphile-worker did not drain in time')
    await new Promise((r) => setTimeout(r, 50))
  }
}

const epochMs = () => performance.timeOrigin + performance.now()

// Untimed jobs first, so the timed ones find Node's JIT warm and the pool's connections open,
// as they are in a worker that has been running for a while (queue-worker's are, by then).
const WARMUP_JOBS = 2_000

/**
 * `processes` graphile-worker processes drain `jobs` no-op jobs: jobs/s from the commit of one
 * `add_jobs` call (made while every process was started, warmed up and idle, so Node's start-up
 * is not timed) until its task ran the last job. That leaves the last completion's commit (a
 * millisecond or so with completeJobBatchDelay 0) untimed: in the peer's favour. Throws unless
 * its jobs table ends empty and the processes' tasks together ran each added job exactly once.
 */
export async function graphileWorkerRun(
  ctx: BenchContext,
  processes: number,
  jobs: number,
): Promise<number> {
  await ctx.sql`vacuum graphile_worker._private_jobs`
  const workers = Array.from({ length: processes }, () => new WorkerProcess(ctx.dbUrl))
  try {
    await Promise.all(workers.map((w) => w.ready()))
    const warmup = await addJobs(ctx, WARMUP_JOBS)
    await drained(ctx)
    const ids = await addJobs(ctx, jobs)
    // Timed from here: the jobs are committed and the processes notified. The peer may have
    // started a few milliseconds earlier, while the commit's answer travelled back.
    const t0 = epochMs()
    await drained(ctx)
    const reports = await Promise.all(workers.map((w) => w.stop()))
    const seconds = (Math.max(...reports.map((r) => r.lastRanAt)) - t0) / 1000
    const ran = reports.flatMap((r) => r.ran)
    const added = [...warmup, ...ids]
    const distinct = new Set(ran)
    const missing = added.filter((id) => !distinct.has(id)).length
    if (ran.length !== added.length || distinct.size !== added.length || missing !== 0) {
      throw new Error(
        `graphile-worker ran ${ran.length} tasks for ${distinct.size} distinct jobs ` +
          `(${missing} of the ${added.length} added never ran)`,
      )
    }
    return jobs / seconds
  } finally {
    workers.forEach((w) => w.kill())
  }
}
