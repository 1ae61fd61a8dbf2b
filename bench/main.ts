// `deno task bench`: starts its own stack (durable Postgres with default settings, like a
// laptop's), runs every bench, and prints each figure (a median) beside its target.
// Figures are informational: the bench exits 0 even when a target is missed, and says so.
import postgres from 'postgres'
import { pgBinDir } from '../local/paths.ts'
import { startThrowawayStack } from '../local/stack.ts'
import type { Bench, Figure } from './harness.ts'

// Every bench/<name>.bench.ts exports `bench`; discovered so areas never edit a shared list.
async function discoverBenches(): Promise<Bench[]> {
  const names: string[] = []
  for await (const entry of Deno.readDir(new URL('.', import.meta.url))) {
    if (entry.isFile && entry.name.endsWith('.bench.ts')) names.push(entry.name)
  }
  const benches: Bench[] = []
  for (const name of names.sort()) {
    const mod = await import(new URL(name, import.meta.url).href)
    benches.push(mod.bench as Bench)
  }
  return benches
}

const benches = await discoverBenches()

const only = Deno.args.length ? new Set(Deno.args) : null
const log = (line: string) => console.log(`bench: ${line}`)
const baseDir = await Deno.makeTempDir({ prefix: 'edge-kernel-bench-' })
const stack = await startThrowawayStack({
  baseDir,
  durable: true,
  watch: false,
  functionOutput: { kind: 'file', dir: baseDir },
  log,
})
const dbPort = stack.cluster.port
const sql = postgres(stack.dbUrl, { prepare: false, max: 4, onnotice: () => {} })
const figures: Figure[] = []
try {
  for (const bench of benches) {
    // A bench named <area>_<what> also runs when its area is asked for (`bench queue` runs
    // queue_scale after queue): benches sort by file name, so the area's own comes first.
    if (only && !only.has(bench.name) && !only.has(bench.name.split('_')[0])) continue
    log(`── ${bench.name}`)
    figures.push(
      ...await bench.run({
        apiUrl: stack.apiUrl,
        dbUrl: stack.dbUrl,
        dbPort,
        pgBinDir: pgBinDir(stack.config.majorVersion),
        anonKey: stack.keys.anonKey,
        serviceRoleKey: stack.keys.serviceRoleKey,
        sql,
        log,
      }),
    )
  }
} finally {
  await sql.end()
  await stack.stop()
  await Deno.remove(baseDir, { recursive: true }).catch(() => {})
}

const width = Math.max(...figures.map((f) => f.name.length))
console.log('')
for (const f of figures) {
  const verdict = f.target === 'info' ? '' : f.ok ? '  ok' : '  MISSED'
  console.log(
    `${f.name.padEnd(width)}  ${String(f.value).padStart(10)} ${f.unit.padEnd(8)} ` +
      `target ${f.target}${verdict}${f.note ? `  (${f.note})` : ''}`,
  )
}
