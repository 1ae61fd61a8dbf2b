// Brings up the whole local stand-in for `supabase start`: Postgres with pg_cron and
// pg_stat_statements, the platform bootstrap, migrations and seeds (the real CLI's `db push`),
// Vault secrets, function processes and the gateway.
// dev.ts, run_tests.ts and the bench all start it through here, with their own ports and folders.
import postgres from 'postgres'
import { Cluster } from './cluster.ts'
import { expandSeedPaths, loadProjectConfig, type ProjectConfig } from './config.ts'
import { freePort, type FunctionProcess, startFunction, waitForPort } from './functions.ts'
import { type ConnGuardLimits, serveGuarded } from './conn_guard.ts'
import { createGatewayHandler } from './gateway.ts'
import { type LocalKeys, localKeys } from './keys.ts'
import {
  applyBootstrap,
  type Psql,
  pushMigrationsAndSeeds,
  runSqlFiles,
  storeVaultSecrets,
} from './migrate.ts'
import { startNetDrain } from './net_drain.ts'
import { ensurePrerequisites } from './prereqs.ts'
import { localAuthHandler } from './auth/local.ts'
import { localStorageHandler } from './storage/local.ts'
import { seedBuckets } from './storage/seed.ts'

export interface StackOptions {
  baseDir: string
  dbPort: number
  apiPort: number
  durable: boolean
  /** Wipe the database first (db:reset, tests). */
  fresh: boolean
  watch: boolean
  functionOutput: { kind: 'prefix' } | { kind: 'file'; dir: string }
  /** SQL files applied after migrations and seeds (the pgTAP helpers, for tests). */
  extraSql?: string[]
  /**
   * Extra variables for every function process (dev: supabase/functions/.env, as `supabase
   * functions serve` reads it). The platform's variables always win.
   */
  functionSecrets?: Record<string, string>
  /** The gateway's connection timeouts; DEFAULT_CONN_GUARD_LIMITS where unset. */
  gatewayTimeouts?: Partial<ConnGuardLimits>
  log: (line: string) => void
}

export interface Stack {
  config: ProjectConfig
  cluster: Cluster
  keys: LocalKeys
  apiUrl: string
  dbUrl: string
  /** Functions that have code and a running process. */
  servedFunctions: string[]
  /** Environment a function process gets, as Supabase injects it. */
  functionEnv: Record<string, string>
  stop(opts?: { keepDatabase?: boolean }): Promise<void>
}

export async function prepareDatabase(opts: StackOptions) {
  const config = await loadProjectConfig()
  const tools = await ensurePrerequisites(config.majorVersion, opts.log)
  const cluster = new Cluster({
    baseDir: opts.baseDir,
    port: opts.dbPort,
    binDir: tools.binDir,
    durable: opts.durable,
  })
  if (opts.fresh) await cluster.destroy()
  const how = await cluster.start({ allowReuse: !opts.fresh })
  opts.log(`postgres ${how} on 127.0.0.1:${opts.dbPort}`)
  const db: Psql = { binDir: tools.binDir, url: cluster.url() }
  try {
    await applyBootstrap(db)
    await pushMigrationsAndSeeds(db, await expandSeedPaths(config.seedPatterns), opts.log)
    if (opts.extraSql?.length) await runSqlFiles(db, opts.extraSql)
  } catch (err) {
    // A server we started for a failed run must not outlive it (a reused dev server stays).
    if (how === 'started' && !opts.durable) await cluster.stop()
    throw err
  }
  return { config, cluster, db, tools }
}

export async function startStack(opts: StackOptions): Promise<Stack> {
  const { config, cluster, db } = await prepareDatabase(opts)
  const cleanups: Array<() => Promise<unknown>> = []
  try {
    return await startServices(opts, config, cluster, db, cleanups)
  } catch (err) {
    // Undo whatever started before the failure, newest first, then the cluster itself.
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
    if (!opts.durable || opts.fresh) await cluster.stop()
    throw err
  }
}

async function startServices(
  opts: StackOptions,
  config: ProjectConfig,
  cluster: Cluster,
  db: Psql,
  cleanups: Array<() => Promise<unknown>>,
): Promise<Stack> {
  const keys = await localKeys()

  // The gateway binds first (port 0 = any free port, for throwaway stacks), so its real URL is
  // known before Vault and the functions are told it, and no other process can take the port
  // in between. Routes fill in as function processes come up.
  const functionPorts = new Map<string, number>()
  // Each service talks to Postgres as the platform's does: the gateway as PostgREST
  // (authenticator, then SET ROLE), the pg_net drain as the platform's own worker (superuser),
  // Auth and Storage as their own admin roles. A pool connects on its first query.
  const pools: postgres.Sql[] = []
  const connect = (role: string, max: number) => {
    const sql = postgres(cluster.url(role), { prepare: false, max, onnotice: () => {} })
    pools.push(sql)
    return sql
  }
  const endPools = () => Promise.all(pools.map((sql) => sql.end({ timeout: 2 })))
  const restSql = connect('authenticator', 10)
  const adminSql = connect('postgres', 4)
  cleanups.push(endPools)
  const abort = new AbortController()
  // Behind the connection guard: Deno.serve alone never times out a slow or silent client.
  const server = serveGuarded(
    {
      hostname: '127.0.0.1',
      port: opts.apiPort,
      signal: abort.signal,
      ...opts.gatewayTimeouts,
    },
    createGatewayHandler({
      functions: config.functions,
      functionPorts,
      jwtSecret: keys.jwtSecret,
      rpc: { sql: restSql, jwtSecret: keys.jwtSecret },
      auth: localAuthHandler(config.auth, { connect, jwtSecret: keys.jwtSecret }),
      storage: localStorageHandler(config.storage, {
        connect,
        jwtSecret: keys.jwtSecret,
        stackDir: opts.baseDir,
      }),
    }),
  )
  cleanups.push(() => {
    abort.abort()
    return server.finished
  })
  const apiUrl = `http://127.0.0.1:${server.addr.port}`
  await storeVaultSecrets(db, { project_url: apiUrl, service_role_key: keys.serviceRoleKey })
  await seedBuckets(config.storage, { apiUrl, serviceRoleKey: keys.serviceRoleKey }, opts.log)

  const functionEnv: Record<string, string> = {
    ...opts.functionSecrets,
    SUPABASE_URL: apiUrl,
    SUPABASE_DB_URL: cluster.url(),
    SUPABASE_ANON_KEY: keys.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: keys.serviceRoleKey,
    JWT_SECRET: keys.jwtSecret,
    PATH: Deno.env.get('PATH') ?? '/usr/bin:/bin',
    HOME: Deno.env.get('HOME') ?? '/tmp',
  }
  for (const name of ['DENO_DIR', 'DENO_NO_UPDATE_CHECK', 'SENTRY_DSN']) {
    const value = Deno.env.get(name)
    if (value) functionEnv[name] = value
  }

  const processes: FunctionProcess[] = []
  const started = await Promise.all(
    [...config.functions.values()].map((fn) =>
      startFunction(fn, { env: functionEnv, watch: opts.watch, output: opts.functionOutput })
    ),
  )
  for (const proc of started) {
    if (!proc) continue
    processes.push(proc)
    functionPorts.set(proc.name, proc.port)
    cleanups.push(() => proc.stop())
  }
  const ready = await Promise.all(processes.map((p) => waitForPort(p.port, 120_000, p.exited)))
  const notReady = processes.filter((_, i) => !ready[i]).map((p) => p.name)
  if (notReady.length) {
    opts.log(`functions not answering (see their output): ${notReady.join(', ')}`)
  }

  const drain = await startNetDrain(adminSql, { log: opts.log })
  cleanups.push(() => drain.stop())

  return {
    config,
    cluster,
    keys,
    apiUrl,
    dbUrl: cluster.url(),
    servedFunctions: [...functionPorts.keys()],
    functionEnv,
    async stop(stopOpts = {}) {
      // The drain goes first: requests in flight may still be calling our own functions.
      await drain.stop()
      abort.abort()
      await server.finished.catch(() => {})
      await Promise.all(processes.map((p) => p.stop()))
      await endPools()
      if (!stopOpts.keepDatabase) await cluster.stop()
    },
  }
}

/**
 * A throwaway stack (tests, bench) on free ports. The database port is picked before Postgres
 * binds it, so another process can win the race: then start again on a new port.
 */
export async function startThrowawayStack(
  opts: Omit<StackOptions, 'dbPort' | 'apiPort' | 'fresh'>,
): Promise<Stack> {
  for (let attempt = 1;; attempt++) {
    try {
      return await startStack({ ...opts, dbPort: freePort(), apiPort: 0, fresh: true })
    } catch (err) {
      const portTaken = /already in use|could not bind|refusing to reuse/i.test(String(err))
      if (!portTaken || attempt >= 3) throw err
      opts.log(`port taken while starting (${attempt}); retrying on another port`)
    }
  }
}
