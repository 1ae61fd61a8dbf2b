// `deno task db:reset`: rebuilds the dev database like `supabase db reset`: a fresh cluster,
// the platform bootstrap, then migrations and seeds through the CLI's `db push`, then the
// buckets in config.toml re-seeded. A running `deno task dev` gateway reconnects on its next
// request.
import { devClusterHome } from './cluster.ts'
import { loadProjectConfig } from './config.ts'
import { waitForPort } from './functions.ts'
import { ROOT, STACK_DIR } from './paths.ts'
import { prepareDatabase } from './stack.ts'
import { storeVaultSecrets } from './migrate.ts'
import { localKeys } from './keys.ts'
import { seedBuckets } from './storage/seed.ts'

const log = (line: string) => console.log(`db:reset: ${line}`)
const config = await loadProjectConfig()
const { db } = await prepareDatabase({
  baseDir: await devClusterHome(`${STACK_DIR}/dev`, ROOT),
  dbPort: config.dbPort,
  apiPort: config.apiPort,
  durable: true,
  fresh: true,
  watch: false,
  functionOutput: { kind: 'prefix' },
  log,
})
const keys = await localKeys()
const apiUrl = `http://127.0.0.1:${config.apiPort}`
await storeVaultSecrets(db, { project_url: apiUrl, service_role_key: keys.serviceRoleKey })
// Like the CLI, seeding goes through the running Storage API, here a running `deno task dev`.
// Without one nothing can read the buckets' files yet, and dev seeds them itself on start.
if (await waitForPort(config.apiPort, 250)) {
  await seedBuckets(config.storage, { apiUrl, serviceRoleKey: keys.serviceRoleKey }, log)
} else if (config.storage.enabled && config.storage.buckets.length) {
  log('buckets are seeded when `deno task dev` starts')
}
log('done')
