// `deno task dev`: the local stand-in for `supabase start` + `supabase functions serve`.
// Postgres keeps running after Ctrl-C (like a started Supabase stack); `deno task stop` stops it.
import { devClusterHome } from './cluster.ts'
import { loadProjectConfig } from './config.ts'
import { FUNCTIONS_DIR, ROOT, STACK_DIR } from './paths.ts'
import { loadFunctionSecrets } from './secrets.ts'
import { startStack } from './stack.ts'
import { cliDbUrl, LINT_SCHEMAS, supabaseCommandLine } from './supabase_cli.ts'

const log = (line: string) => console.log(`dev: ${line}`)
const config = await loadProjectConfig()

const stack = await startStack({
  baseDir: await devClusterHome(`${STACK_DIR}/dev`, ROOT),
  dbPort: config.dbPort,
  apiPort: config.apiPort,
  durable: true,
  fresh: false,
  watch: true,
  functionOutput: { kind: 'prefix' },
  // Like `supabase functions serve`: secrets from supabase/functions/.env (git-ignored).
  functionSecrets: await loadFunctionSecrets(`${FUNCTIONS_DIR}/.env`),
  log,
})

// As in `supabase status`, a service config.toml turns off gets no line (`false`).
const rows = ([
  ['API URL', stack.apiUrl],
  ['Functions URL', `${stack.apiUrl}/functions/v1`],
  ['RPC URL', `${stack.apiUrl}/rest/v1/rpc`],
  ['Auth URL', config.auth.enabled && `${stack.apiUrl}/auth/v1`],
  ['Storage URL', config.storage.enabled && `${stack.apiUrl}/storage/v1`],
  ['DB URL', stack.dbUrl],
  ['JWT secret', stack.keys.jwtSecret],
  ['anon key', stack.keys.anonKey],
  ['service_role key', stack.keys.serviceRoleKey],
  ['Functions', stack.servedFunctions.join(', ') || '(none yet)'],
] as Array<[string, string | false]>).filter((row): row is [string, string] => row[1] !== false)
const width = Math.max(...rows.map(([k]) => k.length))
console.log('\nEdge Kernel local stack is running.\n')
for (const [k, v] of rows) console.log(`  ${k.padStart(width)}: ${v}`)
// The real CLI works against this database by URL (from the repository root), no Docker.
const cliExamples = [
  ['migration', 'list'],
  ['db', 'lint', '--schema', LINT_SCHEMAS],
  ['inspect', 'db', 'outliers'],
]
console.log('\nSupabase CLI against this database (run from the repository root):\n')
for (const args of cliExamples) {
  console.log(`  ${supabaseCommandLine([...args, '--db-url', cliDbUrl(stack.dbUrl)])}`)
}
console.log('\nFunction code reloads on save. Ctrl-C stops the gateway; Postgres keeps running.\n')

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  log(`${signal}: stopping gateway and functions`)
  await stack.stop({ keepDatabase: true })
  log('stopped; Postgres is still running on port ' + config.dbPort)
  Deno.exit(0)
}
Deno.addSignalListener('SIGINT', () => shutdown('SIGINT'))
Deno.addSignalListener('SIGTERM', () => shutdown('SIGTERM'))
