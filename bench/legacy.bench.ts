// Legacy migration figures: one user with 1,000 legacy items and 1,010 small images (10
// portfolios with a hero, 100 items each, every item with an image) migrated by the
// legacy-migration handler in-process, on a real database client and the stack's Storage
// through supabase-js as the user. Each round seeds a fresh user, rehearses with a dry run,
// then runs for real; the figures are the medians of the real runs and of dry ÷ real.
import { localKeys } from '../local/keys.ts'
import { userTestJwt } from '../local/testing.ts'
import { createDb } from '../supabase/functions/_shared/db.ts'
import { NO_SPANS } from '../supabase/functions/_shared/spans.ts'
import { createLegacyMigrationApp } from '../supabase/functions/legacy-migration/app.ts'
import {
  addLegacyPortfolio,
  createUser,
  type FixtureStack,
  removeUser,
} from '../supabase/functions/legacy-migration/testing.ts'
import { type Bench, type BenchContext, type Figure, median, round } from './harness.ts'

const ROUNDS = 3
const SHAPE = { portfolios: 10, itemsPerPortfolio: 100, imageEvery: 1 }
const TARGET_SECONDS = 10
const TARGET_RATIO = 1.2

interface RunTiming {
  seconds: number
  phase_ms: Record<string, number>
}

async function timedRun(
  app: ReturnType<typeof createLegacyMigrationApp>,
  token: string,
  expect: { status: string; objects: number },
): Promise<RunTiming> {
  const t0 = performance.now()
  const res = await app.request('/legacy-migration', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  })
  const seconds = (performance.now() - t0) / 1000
  const body = await res.json()
  if (
    res.status !== 200 || body.status !== expect.status || body.counts.objects !== expect.objects
  ) {
    throw new Error(
      `legacy-migration answered ${res.status}: ${JSON.stringify(body).slice(0, 500)}`,
    )
  }
  return { seconds, phase_ms: body.phase_ms }
}

const phases = (t: RunTiming) =>
  Object.entries(t.phase_ms).map(([phase, ms]) => `${phase} ${ms}`).join(', ')

export const bench: Bench = {
  name: 'legacy',
  async run(ctx: BenchContext): Promise<Figure[]> {
    // The stack signs and verifies with localKeys() (local/stack.ts).
    const keys = await localKeys()
    const tokenEnv = { ...keys, apiUrl: ctx.apiUrl, dbUrl: ctx.dbUrl }
    const stack: FixtureStack = {
      apiUrl: ctx.apiUrl,
      serviceRoleKey: ctx.serviceRoleKey,
      admin: ctx.sql,
    }
    const db = createDb(ctx.dbUrl, { max: 5 })
    const appFor = (dryRun: boolean) =>
      createLegacyMigrationApp({
        sql: db,
        env: {
          SUPABASE_URL: ctx.apiUrl,
          SUPABASE_ANON_KEY: ctx.anonKey,
          JWT_SECRET: keys.jwtSecret,
          ENABLE_LEGACY_MIGRATION: true,
          LEGACY_MIGRATION_DRY_RUN: dryRun,
        },
        spans: NO_SPANS,
      })
    const dryApp = appFor(true)
    const realApp = appFor(false)
    const real: number[] = []
    const ratios: number[] = []
    let images = 0
    try {
      // Warm-up (untimed): connections, JIT and Storage's first requests on a small portfolio.
      const warm = await createUser(stack, 'bench-legacy-warmup')
      try {
        const small = await addLegacyPortfolio(stack, warm, { ...SHAPE, portfolios: 2 })
        const token = await userTestJwt(warm, tokenEnv)
        await timedRun(dryApp, token, { status: 'failed', objects: small.images })
        await timedRun(realApp, token, { status: 'completed', objects: small.images })
      } finally {
        await removeUser(stack, warm)
      }
      for (let r = 0; r < ROUNDS; r++) {
        const userId = await createUser(stack, 'bench-legacy')
        try {
          const seeded = await addLegacyPortfolio(stack, userId, SHAPE)
          images = seeded.images
          const token = await userTestJwt(userId, tokenEnv)
          const dry = await timedRun(dryApp, token, { status: 'failed', objects: seeded.images })
          const run = await timedRun(realApp, token, {
            status: 'completed',
            objects: seeded.images,
          })
          real.push(run.seconds)
          ratios.push(dry.seconds / run.seconds)
          ctx.log(
            `legacy: round ${r + 1}: dry ${round(dry.seconds)} s (${phases(dry)} ms), ` +
              `real ${round(run.seconds)} s (${phases(run)} ms)`,
          )
        } finally {
          await removeUser(stack, userId)
        }
      }
    } finally {
      await db.end()
    }
    const seconds = median(real)
    const ratio = median(ratios)
    return [
      {
        name: `legacy: real run, ${
          SHAPE.portfolios * SHAPE.itemsPerPortfolio
        } items + ${images} images`,
        value: round(seconds),
        unit: 's',
        target: `< ${TARGET_SECONDS}`,
        ok: seconds < TARGET_SECONDS,
      },
      {
        name: 'legacy: dry run ÷ real run',
        value: round(ratio),
        unit: '×',
        target: `<= ${TARGET_RATIO}`,
        ok: ratio <= TARGET_RATIO,
      },
    ]
  },
}
