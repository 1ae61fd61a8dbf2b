// `deno task stop`: stops the dev Postgres that `deno task dev` leaves running.
import { Cluster, devClusterHome } from './cluster.ts'
import { loadProjectConfig } from './config.ts'
import { pgBinDir, ROOT, STACK_DIR } from './paths.ts'

const config = await loadProjectConfig()
const cluster = new Cluster({
  baseDir: await devClusterHome(`${STACK_DIR}/dev`, ROOT),
  port: config.dbPort,
  binDir: pgBinDir(config.majorVersion),
  durable: true,
})
await cluster.stop()
console.log(`stop: postgres on port ${config.dbPort} stopped`)
