// Runs each Edge Function as its own Deno process, as Supabase's edge runtime isolates them:
// own module graph, own environment, own crash. `--watch` reloads a function when any file in
// its module graph (including _shared) changes, like `supabase functions serve`.
import type { FunctionConfig } from './config.ts'
import { ROOT } from './paths.ts'
import { isFile } from './files.ts'

export interface FunctionProcess {
  name: string
  port: number
  /** Resolves when the process exits. */
  exited: Promise<Deno.CommandStatus>
  stop(): Promise<void>
}

export interface FunctionRunnerOptions {
  env: Record<string, string>
  /** Reload on file changes (dev); tests run the code once. */
  watch: boolean
  /** Where each function's output goes: our terminal with a prefix, or a log file. */
  output: { kind: 'prefix' } | { kind: 'file'; dir: string }
}

export function freePort(): number {
  const listener = Deno.listen({ hostname: '127.0.0.1', port: 0 })
  const { port } = listener.addr as Deno.NetAddr
  listener.close()
  return port
}

async function pipeWithPrefix(stream: ReadableStream<Uint8Array>, prefix: string) {
  const dec = new TextDecoderStream()
  let carry = ''
  for await (const chunk of stream.pipeThrough(dec)) {
    const lines = (carry + chunk).split('\n')
    carry = lines.pop() ?? ''
    for (const line of lines) console.log(`${prefix} ${line}`)
  }
  if (carry) console.log(`${prefix} ${carry}`)
}

async function pipeToFile(stream: ReadableStream<Uint8Array>, path: string) {
  const file = await Deno.open(path, { create: true, append: true })
  await stream.pipeTo(file.writable)
}

export async function startFunction(
  fn: FunctionConfig,
  opts: FunctionRunnerOptions,
): Promise<FunctionProcess | null> {
  if (!(await isFile(fn.entrypoint))) return null
  const port = freePort()
  const args = ['run', '--allow-all', '--no-prompt']
  if (opts.watch) args.push('--watch', '--no-clear-screen')
  args.push(fn.entrypoint)
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { ...opts.env, DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}`, NO_COLOR: '1' },
    stdin: 'null',
    stdout: 'piped',
    stderr: 'piped',
  }).spawn()
  if (opts.output.kind === 'prefix') {
    pipeWithPrefix(child.stdout, `[${fn.name}]`)
    pipeWithPrefix(child.stderr, `[${fn.name}]`)
  } else {
    pipeToFile(child.stdout, `${opts.output.dir}/${fn.name}.log`)
    pipeToFile(child.stderr, `${opts.output.dir}/${fn.name}.log`)
  }
  return {
    name: fn.name,
    port,
    exited: child.status,
    async stop() {
      try {
        child.kill('SIGTERM')
      } catch { /* already gone */ }
      // A function that ignores SIGTERM must not hang the test run before its summary line.
      const timer = setTimeout(() => {
        try {
          child.kill('SIGKILL')
        } catch { /* already gone */ }
      }, 3000)
      await child.status
      clearTimeout(timer)
    },
  }
}

/**
 * Waits until the function's port accepts connections (its first start compiles npm packages),
 * giving up at once if the process exits: a function that crashed at boot never will.
 */
export async function waitForPort(
  port: number,
  timeoutMs: number,
  exited?: Promise<unknown>,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  let gone = false
  exited?.then(() => gone = true)
  while (Date.now() < deadline && !gone) {
    try {
      const conn = await Deno.connect({ hostname: '127.0.0.1', port })
      conn.close()
      return true
    } catch {
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  return false
}
