// The shape every checking command (smoke, health, release-check) reports in: one named check
// per line, pass or fail with the reason, timed; `--json` prints the same as one object. A
// check is a function that returns what it saw or throws what is wrong.
export interface Check {
  name: string
  ok: boolean
  /** What the check saw when it passed, or why it failed. */
  detail: string
  ms: number
}

/** Told the name of a step before it starts, so a slow one does not look like a hang. */
export type Progress = (step: string) => void

export const QUIET: Progress = () => {}

/** Thrown by a check (through `expect`) with the reason it failed. */
export class CheckFailed extends Error {}

export function expect(condition: unknown, reason: string): asserts condition {
  if (!condition) throw new CheckFailed(reason)
}

/** Runs one check; never throws. */
export async function runCheck(
  name: string,
  fn: () => Promise<string>,
  progress: Progress = QUIET,
): Promise<Check> {
  progress(name)
  const started = performance.now()
  let ok = true
  let detail: string
  try {
    detail = await fn()
  } catch (err) {
    ok = false
    detail = err instanceof Error ? err.message : String(err)
  }
  return { name, ok, detail: oneLine(detail), ms: Math.round(performance.now() - started) }
}

/** Database and HTTP errors can span lines; a report line must not. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim()
}

export const allPassed = (checks: Check[]) => checks.every((c) => c.ok)

/** The human report: one line per check, then the verdict. */
export function formatChecks(title: string, checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length))
  const lines = checks.map((c) =>
    `${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(width)}  ${c.detail} (${c.ms} ms)`
  )
  const failed = checks.filter((c) => !c.ok)
  lines.push(
    failed.length
      ? `${title}: FAILED (${failed.map((c) => c.name).join(', ')})`
      : `${title}: passed (${checks.length} checks)`,
  )
  return lines.join('\n')
}

/** Progress lines on stderr, so stdout carries only the report. */
export function stderrProgress(title: string): Progress {
  const encoder = new TextEncoder()
  return (step) => Deno.stderr.writeSync(encoder.encode(`${title}: ${step} …\n`))
}
