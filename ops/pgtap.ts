// Runs one pgTAP file against any database, as release-check needs for the RLS baseline and
// perf sanity files: inside the file's own transaction, pgTAP and the `tests` helpers are
// installed first, so the file's rollback removes them again and a project is left exactly as
// it was (the test stack has both already; installing them again there changes nothing).
import { TEST_HELPERS_SQL } from '../local/paths.ts'

export interface TapResult {
  planned: number
  passed: number
  /** The failing assertions' lines, with their diagnostics. */
  failures: string[]
}

/** The file with pgTAP and the helpers loaded right after its `begin;`. */
export function withHelpers(source: string): string {
  const begin = /^begin;[ \t]*$/m
  if (!begin.test(source)) throw new Error('a pgTAP file must open its transaction with `begin;`')
  return source.replace(
    begin,
    `begin;\ncreate extension if not exists pgtap with schema extensions;\n` +
      `\\i '${TEST_HELPERS_SQL.replaceAll("'", "''")}'`,
  )
}

/** Reads psql's output of a pgTAP file (TAP lines, as pg_prove reads them). */
export function parseTap(output: string): TapResult {
  const lines = output.split('\n')
  const planned = Number(/^1\.\.(\d+)$/m.exec(output)?.[1] ?? 0)
  const passed = lines.filter((l) => /^ok \d+/.test(l)).length
  const failures: string[] = []
  lines.forEach((line, i) => {
    if (!/^not ok \d+/.test(line)) return
    const diagnostics = []
    for (let j = i + 1; j < lines.length && lines[j].startsWith('#'); j++) {
      diagnostics.push(lines[j].replace(/^#\s*/, ''))
    }
    failures.push([line, ...diagnostics.slice(0, 6)].join(' | '))
  })
  return { planned, passed, failures }
}

/** Runs `file` with psql; throws with the reason unless every planned assertion passed. */
export async function proveFile(dbUrl: string, file: string): Promise<TapResult> {
  const script = await Deno.makeTempFile({ suffix: '.sql' })
  try {
    await Deno.writeTextFile(script, withHelpers(await Deno.readTextFile(file)))
    const out = await new Deno.Command('psql', {
      args: [
        dbUrl,
        '-X',
        '-q',
        '-A',
        '-t',
        '-v',
        'ON_ERROR_STOP=1',
        '-P',
        'pager=off',
        '-f',
        script,
      ],
      // Only warnings and errors: the NOTICEs of `if not exists` would bury the reason.
      env: { PGOPTIONS: '-c client_min_messages=warning' },
      stdout: 'piped',
      stderr: 'piped',
    }).output()
    const stdout = new TextDecoder().decode(out.stdout)
    const stderr = new TextDecoder().decode(out.stderr)
    const tap = parseTap(stdout)
    if (out.code !== 0) throw new Error(`psql stopped (exit ${out.code}): ${stderr.trim()}`)
    if (tap.failures.length) throw new Error(`failed: ${tap.failures.join('; ')}`)
    if (tap.planned === 0 || tap.passed !== tap.planned) {
      throw new Error(`planned ${tap.planned} assertions, ${tap.passed} passed`)
    }
    return tap
  } finally {
    await Deno.remove(script)
  }
}
