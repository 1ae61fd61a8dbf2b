// POST /policy-ranker/rank and /policy-ranker/reward: the epsilon-greedy ranker for signed-in
// users. A decision scores the candidates from the feature store, fills the slate slot by slot
// (slate.ts), logs every slot with its propensity in one statement, and answers the slate; a
// reward joins later by decision_id. Safe mode (global.safe_mode, canary included) serves a
// deterministic slate with epsilon 0, logged with p_exp 0.
import { z } from 'zod'
import { requireUser, type UserVars } from '../_shared/auth.ts'
import type { Env } from '../_shared/env.ts'
import { createFlagStore, FLAG_KEYS, type FlagStore, type RankerPolicy } from '../_shared/flags.ts'
import { parseJsonBody } from '../_shared/http.ts'
import { applyRateLimit, createRateLimitCheck, rateLimit } from '../_shared/rate_limit.ts'
import { type AuthedAppDeps, createFunctionApp, verifierFor } from '../_shared/wiring.ts'
import { DEFAULT_RATE_LIMIT_PER_MINUTE, type RankerConfig } from './config.ts'
import { fallbackCandidates, logDecision, recordReward, scoreCandidates } from './decisions.ts'
import { byScore, epsilonGreedySlate, safeModeSlate, type Slot } from './slate.ts'

export interface PolicyRankerDeps
  extends AuthedAppDeps<Pick<Env, 'SENTRY_DSN' | 'JWT_SECRET' | 'SUPABASE_JWKS'>> {
  /** index.ts passes loadRankerConfig(); default: every setting at its default. */
  config?: RankerConfig
  /** Default: a flag store over `sql` (5 s cache, fail-safe when flags cannot be read). */
  flags?: FlagStore
  /** Floats in [0, 1) for exploration. Default Math.random; tests seed their own. */
  random?: () => number
}

const candidateSchema = z.strictObject({
  id: z.string({ error: 'must be a non-empty string' }).trim()
    .min(1, { error: 'must be a non-empty string' })
    .max(200, { error: 'must be at most 200 characters' }),
  /** Kept in the logged context of the slot it is placed in, for offline evaluation. */
  features: z.record(z.string(), z.unknown()).optional(),
})

/** The /rank body. Unknown fields are refused, so a typo is a 400 rather than ignored. */
export const rankBodySchema = z.strictObject({
  surface: z.string({ error: 'required' }).trim()
    .min(1, { error: 'required' })
    .max(100, { error: 'must be at most 100 characters' }),
  limit: z.int({ error: 'must be an integer' })
    .min(1, { error: 'must be between 1 and 100' })
    .max(100, { error: 'must be between 1 and 100' })
    .default(12),
  /** Default: the caller's marketplace suggestions, then popular active candidates. */
  candidates: z.array(candidateSchema, { error: 'must be an array' })
    .min(1, { error: 'must not be empty (leave it out for the default candidates)' })
    .max(500, { error: 'must have at most 500 candidates' })
    .optional(),
}, { error: (issue) => issue.code === 'invalid_type' ? 'must be a JSON object' : undefined })

/** The /reward body; the range check is the surface's, in SQL (default [-1, 1]). */
export const rewardBodySchema = z.strictObject({
  decision_id: z.uuid({ error: 'must be a uuid' }),
  candidate_id: z.string({ error: 'must be a non-empty string' })
    .min(1, { error: 'must be a non-empty string' })
    .max(200, { error: 'must be at most 200 characters' }),
  // z.number() refuses NaN and ±Infinity (JSON's 1e999 parses to Infinity).
  reward: z.number({ error: 'must be a finite number' }),
}, { error: (issue) => issue.code === 'invalid_type' ? 'must be a JSON object' : undefined })

type RankBody = z.output<typeof rankBodySchema>

/** What /rank decided, before it is logged and answered. */
interface Decision {
  body: RankBody
  policy: RankerPolicy
  learning: boolean
  slots: Slot[]
}

/** One answered slot. */
export interface RankedItem {
  candidate_id: string
  score: number
  p_exp: number
  explored: boolean
  position: number
}

export function createPolicyRankerApp(deps: PolicyRankerDeps) {
  const { sql, random = Math.random } = deps
  const verifier = verifierFor(deps)
  const flags = deps.flags ?? createFlagStore({ sql })
  const perMinute = deps.config?.rateLimitPerMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE
  const app = createFunctionApp<UserVars>('policy-ranker', deps)

  app.use('*', requireUser({ verifier }))
  // One budget per user over /rank and /reward together (one bucket). /reward is counted before
  // it runs; /rank counts in parallel with its own work (below).
  const rule = {
    sql,
    bucket: 'policy-ranker',
    limit: perMinute,
    windowSeconds: 60,
    now: deps.now,
  }
  const checkRate = createRateLimitCheck(rule)
  app.use(
    '/reward',
    rateLimit<{ Variables: UserVars }>({ ...rule, subject: (c) => c.get('userId') }),
  )

  app.post('/rank', async (c) => {
    const userId = c.get('userId')
    // The rate-limit check is a round trip of its own (about 0.6 ms of a 5 ms budget), so it
    // runs while the body is parsed and the candidates are scored, on another pooled
    // connection. It is settled before anything is logged or answered: over the limit is a 429
    // with nothing logged, and a 429 still wins over the request's own errors, as when the
    // check ran first. The no-op catch only keeps an early rejection from being reported as
    // unhandled before it is awaited.
    const verdict = checkRate(userId)
    verdict.catch(() => {})
    let decision: Decision
    try {
      decision = await decide(await parseJsonBody(c, rankBodySchema), userId)
    } catch (err) {
      applyRateLimit(c, await verdict)
      throw err
    }
    applyRateLimit(c, await verdict)

    const { body, policy, learning, slots } = decision
    const decisionId = crypto.randomUUID()
    if (learning && slots.length > 0) {
      await logDecision(sql, {
        decisionId,
        userId,
        surface: body.surface,
        policy: policy.version,
        slots,
      })
    }
    const items: RankedItem[] = slots.map((s) => ({
      candidate_id: s.candidate_id,
      score: s.score,
      p_exp: s.p_exp,
      explored: s.explored,
      position: s.position,
    }))
    return c.json({
      decision_id: decisionId,
      policy: policy.version,
      epsilon: policy.epsilon,
      safe_mode: policy.safeMode,
      items,
    })
  })

  /** The slate for a parsed /rank body: flags, scores, then slot by slot (nothing written). */
  async function decide(body: RankBody, userId: string): Promise<Decision> {
    // Both read the flag cache; when flags cannot be read they fail safe (safe mode, no
    // learning) and the ranker still answers.
    const [policy, learning] = await Promise.all([
      flags.rankerPolicy(userId),
      flags.isEnabled(FLAG_KEYS.learning, userId),
    ])
    const given = body.candidates?.map((candidate) => candidate.id)
    let slots: Slot[]
    if (policy.safeMode) {
      // Given candidates are the caller's surface (a feed, say): safe mode serves them in greedy
      // order. Without them it serves the fallback slate, the same for everyone.
      const ordered = given
        ? (await scoreCandidates(sql, userId, given)).sort(byScore)
        : await fallbackCandidates(sql, body.limit)
      slots = safeModeSlate(ordered, body.limit)
    } else {
      const scored = await scoreCandidates(sql, userId, given)
      slots = epsilonGreedySlate(scored, body.limit, policy.epsilon, random)
    }
    if (body.candidates) attachFeatures(slots, body.candidates)
    return { body, policy, learning, slots }
  }

  app.post('/reward', async (c) => {
    const body = await parseJsonBody(c, rewardBodySchema)
    return c.json(await recordReward(sql, c.get('claims'), body))
  })

  return app
}

/** Puts each given candidate's features into the logged context of the slot it landed in. */
function attachFeatures(
  slots: Slot[],
  candidates: readonly { id: string; features?: Record<string, unknown> }[],
): void {
  const features = new Map(candidates.map((c) => [c.id, c.features]))
  for (const slot of slots) {
    const f = features.get(slot.candidate_id)
    if (f !== undefined) slot.context = { ...slot.context, features: f }
  }
}
