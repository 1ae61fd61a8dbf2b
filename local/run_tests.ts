// `deno task test`: fmt check, lint, type check, then a throwaway stack (its own cluster and
// ports, so it never touches dev data and can run while dev is up, migrated and seeded by the
// Supabase CLI's `db push`), the CLI's own checks (`db lint`, `migration list`, `inspect db`),
// pgTAP through pg_prove, and `deno test` against the real stack. The last line is
// "N passed, M failed". `deno task test <path>…` narrows every step to those files or folders
// (for quick loops; the CLI checks run when a path is under supabase/migrations, actionlint when
// one is under .github, and a run given only .github paths needs no stack); CI runs it without
// arguments.
import { LOCAL_DB_PASSWORD } from './keys.ts'
import { ROOT, TEST_HELPERS_SQL, TESTS_DIR } from './paths.ts'
import { type Stack, startThrowawayStack } from './stack.ts'
import { pathExists } from './files.ts'
import { supabaseCliChecks } from './supabase_cli_checks.ts'
import { actionlint } from './actionlint.ts'

interface StepResult {
  name: string
  passed: number
  failed: number
  skipped?: number
}

const results: StepResult[] = []
const log = (line: string) => console.log(`test: ${line}`)

/** Runs a command, streaming its output, and returns what it printed for counting. */
async function stream(cmd: string[], env: Record<string, string> = {}) {
  const child = new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: ROOT,
    env: { NO_COLOR: '1', ...env },
    stdin: 'null',
    stdout: 'piped',
    stderr: 'piped',
  }).spawn()
  let text = ''
  const pump = async (s: ReadableStream<Uint8Array>, out: typeof Deno.stdout) => {
    for await (const chunk of s) {
      text += new TextDecoder().decode(chunk)
      await out.write(chunk)
    }
  }
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, Deno.stdout),
    pump(child.stderr, Deno.stderr),
  ])
  return { code: status.code, text }
}

async function findTestFiles(dir: string): Promise<string[]> {
  const out: string[] = []
  const info = await Deno.stat(dir).catch(() => null)
  if (!info) return out
  if (info.isFile) return dir.endsWith('.test.sql') ? [dir] : []
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`
    if (entry.isDirectory) out.push(...await findTestFiles(path))
    else if (entry.name.endsWith('.test.sql')) out.push(path)
  }
  return out.sort()
}

async function gate(name: string, cmd: string[]) {
  log(`── ${name}`)
  const { code } = await stream(cmd)
  results.push({ name, passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1 })
}

const deno = Deno.execPath()
const only = Deno.args.map((p) => p.replace(/\/$/, ''))
const isGithubPath = (p: string) => p === '.github' || p.startsWith('.github/')
// pgTAP-only, migration and workflow paths have nothing for fmt/lint/check, which fail on "no
// target files".
const isTsPath = (p: string) =>
  !p.endsWith('.sql') && !p.startsWith('supabase/tests') &&
  !p.startsWith('supabase/migrations') && !isGithubPath(p)
const cliChecks = !only.length || only.some((p) => p.startsWith('supabase/migrations'))
const tsOnly = only.filter(isTsPath)
const checkable = [] as string[]
for (const t of only.length ? tsOnly : ['local', 'ops', 'bench', 'supabase/functions']) {
  if (await pathExists(t.startsWith('/') ? t : `${ROOT}/${t}`)) checkable.push(t)
}
if (!only.length || tsOnly.length) {
  await gate('fmt', [deno, 'fmt', '--check', ...tsOnly])
  await gate('lint', [deno, 'lint', ...tsOnly])
}
if (checkable.length) await gate('type check', [deno, 'check', ...checkable])
if (!only.length || only.some(isGithubPath)) await lintWorkflows()
if (only.length && only.every(isGithubPath)) summarize()

/** actionlint on .github/workflows: one pass per clean workflow file, one failure per file. */
async function lintWorkflows() {
  log('── actionlint')
  try {
    const r = await actionlint()
    if (r.output) console.log(r.output)
    results.push({
      name: 'actionlint',
      passed: r.files.length - r.failedFiles.length,
      failed: r.failedFiles.length,
    })
  } catch (err) {
    console.error(err)
    results.push({ name: 'actionlint', passed: 0, failed: 1 })
  }
}

const baseDir = await Deno.makeTempDir({ prefix: 'edge-kernel-test-' })
let stack: Stack | null = null
try {
  stack = await startThrowawayStack({
    baseDir,
    durable: false,
    watch: false,
    functionOutput: { kind: 'file', dir: baseDir },
    extraSql: [`${ROOT}/local/test_setup.sql`, TEST_HELPERS_SQL],
    // Short enough for a test to watch the gateway cut off a client that never finishes its
    // headers; every test client sends its headers at once.
    gatewayTimeouts: { headersTimeoutMs: 1000 },
    log,
  })
  const dbPort = stack.cluster.port

  if (cliChecks) {
    log('── supabase CLI')
    const started = performance.now()
    const checks = await supabaseCliChecks(stack.dbUrl)
    log(`supabase CLI checks took ${((performance.now() - started) / 1000).toFixed(1)} s`)
    for (const c of checks) {
      log(`${c.ok ? 'ok' : 'FAILED'}: supabase ${c.name}${c.ok ? ` (${c.detail})` : ''}`)
      if (!c.ok) console.error(c.detail)
    }
    const ok = checks.filter((c) => c.ok).length
    results.push({ name: 'supabase CLI', passed: ok, failed: checks.length - ok })
  }

  const tapFiles = only.length
    ? (await Promise.all(only.map((p) => findTestFiles(p.startsWith('/') ? p : `${ROOT}/${p}`))))
      .flat()
    : await findTestFiles(TESTS_DIR)
  log('── pgTAP')
  const prove = tapFiles.length === 0 ? { code: 0, text: 'Tests=0' } : await stream([
    'pg_prove',
    '-h',
    '127.0.0.1',
    '-p',
    `${dbPort}`,
    '-U',
    'postgres',
    '-d',
    'postgres',
    // pg_prove picks a file's handler by its last extension, so `--ext .test.sql` would hand
    // the files to Perl; name the *.test.sql files instead (helpers are plain *.sql).
    '--ext',
    '.sql',
    ...tapFiles,
  ], { PGPASSWORD: LOCAL_DB_PASSWORD })
  const total = Number(/Tests=(\d+)/.exec(prove.text)?.[1] ?? 0)
  const failedTap = [...prove.text.matchAll(/Failed (\d+)\/\d+ subtests/g)]
    .reduce((sum, m) => sum + Number(m[1]), 0)
  // A file that dies before its plan completes is a failure even if no subtest is counted.
  const broken = prove.code !== 0 && failedTap === 0 ? 1 : 0
  results.push({ name: 'pgTAP', passed: total - failedTap, failed: failedTap + broken })

  log('── deno test')
  const denoTest = only.length && tsOnly.length === 0
    ? { code: 0, text: '0 passed | 0 failed' }
    : await stream([deno, 'test', '-A', '--no-check', ...tsOnly], {
      ...stack.functionEnv,
    })
  const m = /(\d+) passed.*?\| (\d+) failed/.exec(denoTest.text)
  const passed = Number(m?.[1] ?? 0)
  const failed = Number(m?.[2] ?? 0) + (denoTest.code !== 0 && !m?.[2] ? 1 : 0)
  // Ignored tests are reported, so a lost environment hand-off cannot hide as silent skips.
  const ignored = Number(/(\d+) ignored/.exec(denoTest.text)?.[1] ?? 0)
  results.push({
    name: 'deno test',
    passed,
    failed: failed === 0 && denoTest.code !== 0 ? 1 : failed,
    skipped: ignored,
  })
} catch (err) {
  console.error(err)
  results.push({ name: 'stack', passed: 0, failed: 1 })
} finally {
  await stack?.stop().catch((err) => console.error(err))
  if (Deno.env.get('EDGE_KERNEL_KEEP_TEST_STACK')) log(`kept ${baseDir}`)
  else await Deno.remove(baseDir, { recursive: true }).catch(() => {})
}

summarize()

/** Prints each step's counts and the closing "N passed, M failed" line, then exits. */
function summarize(): never {
  console.log('')
  const skippedText = (n = 0) => n ? `, ${n} skipped` : ''
  for (const r of results) {
    log(`${r.name}: ${r.passed} passed, ${r.failed} failed${skippedText(r.skipped)}`)
  }
  const passed = results.reduce((s, r) => s + r.passed, 0)
  const failed = results.reduce((s, r) => s + r.failed, 0)
  const skipped = results.reduce((s, r) => s + (r.skipped ?? 0), 0)
  console.log(`${passed} passed, ${failed} failed${skippedText(skipped)}`)
  Deno.exit(failed === 0 ? 0 : 1)
}
