// `deno task db:reset`: rebuilds the dev database from migrations and seeds, like
// `supabase db reset`. A running `deno task dev` gateway reconnects on its next request.
import { devClusterHome } from './cluster.ts'
import { loadProjectConfig } from './config.ts'
import { ROOT, STACK_DIR } from './paths.ts'
import { prepareDatabase } from './stack.ts'
import { storeVaultSecrets } from './migrate.ts'
import { localKeys } from './keys.ts'

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
await storeVaultSecrets(db, {
  project_url: `http://127.0.0.1:${config.apiPort}`,
  service_role_key: keys.serviceRoleKey,
})
log('done')
