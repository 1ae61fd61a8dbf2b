// Running external programs (initdb, pg_ctl, psql, apt-get) with clear failures.
export interface RunOptions {
  cwd?: string
  env?: Record<string, string>
  /** Run as this OS user via runuser (initdb and postgres refuse to run as root). */
  asUser?: string
  /** Feed this text to standard input. */
  stdin?: string
  /** Stream output to our terminal instead of capturing it. */
  inherit?: boolean
}

export interface RunResult {
  code: number
  stdout: string
  stderr: string
}

export function isRoot(): boolean {
  return Deno.uid() === 0
}

export async function run(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  const argv = opts.asUser && isRoot() ? ['runuser', '-u', opts.asUser, '--', ...cmd] : cmd
  const child = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: opts.cwd,
    env: opts.env,
    stdin: opts.stdin === undefined ? 'null' : 'piped',
    stdout: opts.inherit ? 'inherit' : 'piped',
    stderr: opts.inherit ? 'inherit' : 'piped',
  }).spawn()
  if (opts.stdin !== undefined) {
    const writer = child.stdin.getWriter()
    await writer.write(new TextEncoder().encode(opts.stdin))
    await writer.close()
  }
  const out = await child.output()
  const dec = new TextDecoder()
  return {
    code: out.code,
    stdout: opts.inherit ? '' : dec.decode(out.stdout),
    stderr: opts.inherit ? '' : dec.decode(out.stderr),
  }
}

/** Like run, but throws with the command's own output when it fails. */
export async function mustRun(cmd: string[], opts: RunOptions = {}): Promise<RunResult> {
  const res = await run(cmd, opts)
  if (res.code !== 0) {
    throw new Error(
      `command failed (exit ${res.code}): ${cmd.join(' ')}\n${res.stderr || res.stdout}`.trim(),
    )
  }
  return res
}

export async function which(name: string): Promise<string | null> {
  const res = await run(['sh', '-c', `command -v ${name}`])
  return res.code === 0 ? res.stdout.trim() : null
}
