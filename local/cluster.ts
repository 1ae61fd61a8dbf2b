// A PostgreSQL cluster in a folder of ours, run as the `postgres` OS user when we are root
// (initdb and postgres refuse root), configured the way Supabase's image is where it matters:
// pg_cron (pointed at the `postgres` database) and pg_stat_statements preloaded.
import { LOCAL_DB_PASSWORD } from './keys.ts'
import { isRoot, mustRun, run } from './proc.ts'
import { sha256Hex } from './files.ts'

export interface ClusterOptions {
  /** Folder holding data/ and postgres.log; created and handed to the postgres user. */
  baseDir: string
  port: number
  binDir: string
  /**
   * Throwaway test clusters turn fsync off: nothing in them must survive a crash, and the
   * test suite runs several times faster. Dev and bench clusters keep PostgreSQL's defaults.
   */
  durable: boolean
}

const OS_USER = 'postgres'

export class Cluster {
  readonly dataDir: string
  readonly logFile: string
  constructor(readonly opts: ClusterOptions) {
    this.dataDir = `${opts.baseDir}/data`
    this.logFile = `${opts.baseDir}/postgres.log`
  }

  /** Superuser connection string, as SUPABASE_DB_URL is locally. */
  url(user = 'postgres', password = LOCAL_DB_PASSWORD): string {
    return `postgresql://${user}:${password}@127.0.0.1:${this.opts.port}/postgres`
  }

  get port(): number {
    return this.opts.port
  }

  private bin(name: string): string {
    return `${this.opts.binDir}/${name}`
  }

  async isInitialized(): Promise<boolean> {
    try {
      await Deno.stat(`${this.dataDir}/PG_VERSION`)
      return true
    } catch {
      return false
    }
  }

  async isAccepting(): Promise<boolean> {
    const res = await run([this.bin('pg_isready'), '-q', '-h', '127.0.0.1', '-p', `${this.port}`])
    return res.code === 0
  }

  async init(): Promise<void> {
    if (await this.isInitialized()) return
    await Deno.mkdir(this.dataDir, { recursive: true })
    const pwfile = `${this.opts.baseDir}/.pwfile`
    await Deno.writeTextFile(pwfile, LOCAL_DB_PASSWORD + '\n')
    await this.handToOsUser()
    await mustRun([
      this.bin('initdb'),
      '-D',
      this.dataDir,
      '-U',
      'postgres',
      '--pwfile',
      pwfile,
      '-E',
      'UTF8',
      '--no-locale',
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
    ], { asUser: OS_USER })
    await Deno.remove(pwfile)
    const conf = `${this.dataDir}/postgresql.conf`
    await Deno.writeTextFile(conf, "\ninclude = 'edge_kernel.conf'\n", { append: true })
  }

  /** Writes our settings file; true when its content changed (a running server is stale). */
  private async writeSettings(): Promise<boolean> {
    const lines = [
      `# Written by local/cluster.ts on every start; edit there, not here.`,
      `listen_addresses = '127.0.0.1'`,
      `port = ${this.port}`,
      // Sockets in our own folder: /var/run/postgresql may not exist or be writable.
      `unix_socket_directories = '${this.dataDir}'`,
      // pg_stat_statements must be preloaded for its view to be readable (`supabase inspect db
      // outliers` / `calls`); the extension itself is created by a migration, as on Supabase.
      `shared_preload_libraries = 'pg_cron,pg_stat_statements'`,
      `cron.database_name = 'postgres'`,
      // Background workers instead of libpq connections: pg_cron then needs no password.
      `cron.use_background_workers = on`,
      `max_worker_processes = 32`,
      `max_connections = 200`,
      `timezone = 'UTC'`,
      `log_timezone = 'UTC'`,
      `log_min_messages = warning`,
    ]
    if (!this.opts.durable) {
      lines.push(`fsync = off`, `synchronous_commit = off`, `full_page_writes = off`)
    }
    const file = `${this.dataDir}/edge_kernel.conf`
    const text = lines.join('\n') + '\n'
    const before = await Deno.readTextFile(file).catch(() => null)
    if (before === text) return false
    await Deno.writeTextFile(file, text)
    await this.handToOsUser()
    return true
  }

  /** Whether the server answering on our port runs from our data folder (its pid file says so). */
  private async servesOurData(): Promise<boolean> {
    const pid = await Deno.readTextFile(`${this.dataDir}/postmaster.pid`).catch(() => '')
    // postmaster.pid line 4 is the port the server listens on.
    return pid.split('\n')[3]?.trim() === `${this.port}`
  }

  /**
   * Starts the server, or reuses one already accepting connections on the port (dev). A fresh
   * stack (tests, db:reset) refuses to: it would otherwise run against someone else's database.
   */
  async start(
    opts: { allowReuse: boolean } = { allowReuse: true },
  ): Promise<'started' | 'reused' | 'restarted'> {
    if (await this.isAccepting()) {
      if (!opts.allowReuse) {
        throw new Error(`port ${this.port} is already serving a database; refusing to reuse it`)
      }
      // A dev server left running by an older checkout restarts once to load settings added
      // since (a new preload library needs a restart, not a reload).
      if (await this.servesOurData() && await this.writeSettings()) {
        await this.pgCtl('restart')
        return 'restarted'
      }
      return 'reused'
    }
    await this.init()
    await this.writeSettings()
    await this.pgCtl('start')
    return 'started'
  }

  /** pg_ctl start or restart, waiting up to 60 s; a failure carries the server log's tail. */
  private async pgCtl(action: 'start' | 'restart'): Promise<void> {
    const res = await run([
      this.bin('pg_ctl'),
      '-D',
      this.dataDir,
      '-l',
      this.logFile,
      '-w',
      '-t',
      '60',
      '-m',
      'fast',
      action,
    ], { asUser: OS_USER })
    if (res.code !== 0) {
      let log = ''
      try {
        log = (await Deno.readTextFile(this.logFile)).split('\n').slice(-20).join('\n')
      } catch { /* no log yet */ }
      throw new Error(`postgres failed to ${action} on port ${this.port}:\n${res.stderr}\n${log}`)
    }
  }

  async stop(): Promise<void> {
    if (!(await this.isInitialized())) return
    await run([this.bin('pg_ctl'), '-D', this.dataDir, '-m', 'fast', '-w', 'stop'], {
      asUser: OS_USER,
    })
  }

  /** Stops the server and deletes its data: the next start is a fresh initdb. */
  async destroy(): Promise<void> {
    await this.stop()
    await Deno.remove(this.opts.baseDir, { recursive: true }).catch(() => {})
  }

  private async handToOsUser(): Promise<void> {
    if (!isRoot()) return
    await Deno.mkdir(this.opts.baseDir, { recursive: true })
    await mustRun(['chown', '-R', `${OS_USER}:${OS_USER}`, this.opts.baseDir])
  }
}

/**
 * Where the dev cluster lives: `.local-stack/dev` in the clone, unless we are root and the
 * `postgres` OS user cannot reach that folder (a clone under /root, mode 700). Then the data
 * goes to /var/lib/edge-kernel/<clone hash>, which survives reboots like the clone does.
 */
export async function devClusterHome(preferred: string, cloneRoot: string): Promise<string> {
  if (!isRoot()) return preferred
  const probe = await run(['test', '-x', cloneRoot], { asUser: OS_USER })
  if (probe.code === 0) return preferred
  // 12 hex digits (6 bytes) tell clones apart without a long path.
  const hash = (await sha256Hex(cloneRoot)).slice(0, 12)
  return `/var/lib/edge-kernel/${hash}`
}
