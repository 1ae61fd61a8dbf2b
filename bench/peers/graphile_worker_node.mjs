// One graphile-worker process for the queue bench, run by Node (not Deno) the way its users run
// it. bench/peers/graphile_worker.ts installs the package and starts this file; nothing in the
// project imports it.
//
//   node graphile_worker_node.mjs <package dir> migrate   installs graphile-worker's schema
//   node graphile_worker_node.mjs <package dir> work      runs the `noop` task until stdin closes
//
// DATABASE_URL names the database. In `work` mode the process prints `ready` once its pool is
// started, and when stdin closes it stops gracefully (its batched completions flushed) and prints
// one JSON line, {"ran": [job ids], "lastRanAt": epoch ms}: the parent checks that every job ran
// exactly once, and times the drain up to the last task run.
import { createRequire } from 'node:module'
import process from 'node:process'

const [packageDir, mode] = process.argv.slice(2)
const require = createRequire(`${packageDir}/`)
const { Logger, run, runMigrations } = require('graphile-worker')

// The settings of graphile-worker's performance page (worker.graphile.org/docs/performance),
// which its own perfTest uses.
const preset = {
  worker: {
    connectionString: process.env.DATABASE_URL,
    concurrentJobs: 24,
    maxPoolSize: 25,
    localQueue: { size: 500 },
    completeJobBatchDelay: 0,
    failJobBatchDelay: 0,
    // No task directory or crontab: the one task is given below.
    taskDirectory: `${packageDir}/no-tasks`,
    crontabFile: `${packageDir}/no-crontab`,
  },
}

// Only errors reach stderr; per-job info lines would cost the peer time we are measuring.
const logFactory = (scope) => (level, message) => {
  if (level === 'error') console.error(`graphile-worker ${JSON.stringify(scope)}: ${message}`)
}

if (mode === 'migrate') {
  await runMigrations({ preset })
} else if (mode === 'work') {
  const ran = []
  let lastRanAt = 0
  const runner = await run({
    preset: { ...preset, worker: { ...preset.worker, logger: new Logger(logFactory) } },
    taskList: {
      noop: (_payload, helpers) => {
        ran.push(helpers.job.id)
        lastRanAt = performance.timeOrigin + performance.now()
      },
    },
  })
  process.stdout.write('ready\n')
  process.stdin.resume()
  await new Promise((resolve) => process.stdin.on('end', resolve))
  await runner.stop()
  process.stdout.write(`${JSON.stringify({ ran, lastRanAt })}\n`)
} else {
  throw new Error(`unknown mode ${mode}`)
}
