// Feature flags for functions: one query loads every flag, a TTL cache serves evaluations, and
// when the database cannot be read the store serves the last known values for a while (STALE),
// then fails safe (safe mode on, learning off, exploration 0; reason ERROR).
//
// The rules mirror public.flag_enabled() exactly (supabase/tests/flags/bucket_vectors.tsv is
// checked against both). Reasons use OpenFeature's vocabulary:
//   STATIC           the flag's stored value decided, and this call loaded it from the database
//   CACHED           the same, served from the cache without a database round trip
//   SPLIT            a percentage rollout placed the user by their bucket
//   TARGETING_MATCH  a rule overrode the stored value (rankerPolicy: safe mode forces epsilon 0)
//   DEFAULT          no such flag, or a partial rollout evaluated without a user
//   STALE            the database could not be read; the last known values were used
//   ERROR            nothing usable for `staleMs`, or the stored value is malformed: the
//                    fail-safe value was returned
import type { Sql } from './db.ts'
import { withDeadline } from './deadline.ts'
import { bucketOf } from './bucket.ts'

/** The contract flags (public.feature_flags keys seeded by the flags migration). */
export const FLAG_KEYS = {
  safeMode: 'global.safe_mode',
  rankerPolicy: 'ranker.policy',
  marketplaceSuggest: 'marketplace.suggest',
  learning: 'learning.enabled',
  crushMode: 'crush_mode.enabled',
} as const

export const REASONS = {
  STATIC: 'STATIC',
  TARGETING_MATCH: 'TARGETING_MATCH',
  SPLIT: 'SPLIT',
  DEFAULT: 'DEFAULT',
  CACHED: 'CACHED',
  STALE: 'STALE',
  ERROR: 'ERROR',
} as const
export type Reason = typeof REASONS[keyof typeof REASONS]

/** An evaluation answers a value and why (OpenFeature's resolution details, trimmed). */
export interface Evaluation<T = boolean> {
  value: T
  reason: Reason
}

/** The ranker's settings for one decision. */
export interface RankerPolicy {
  version: string
  /** Exploration rate in [0, 1]; 0 under safe mode and when failing safe. */
  epsilon: number
  /** Whether safe mode applies to this decision (deterministic slates, p_exp = 0). */
  safeMode: boolean
  reason: Reason
}

/** A row of public.feature_flags as the store reads it. */
export interface FlagRow {
  key: string
  value: unknown
}

/** Used when ranker.policy is missing or unreadable: the seeded version, no exploration. */
export const DEFAULT_RANKER_VERSION = 'epsilon_greedy_v1'

/**
 * Boolean values when failing safe. Safe mode is on; every other flag (learning, suggestions,
 * crush mode, unknown keys) is off.
 */
export const FAIL_SAFE_VALUES: Readonly<Record<string, boolean>> = {
  [FLAG_KEYS.safeMode]: true,
}

// Without a user a partial rollout places nobody, except for this kill switch: work done for
// nobody in particular (cron, batch jobs) stays in safe mode until the canary reaches everyone.
const KILL_SWITCHES: ReadonlySet<string> = new Set([FLAG_KEYS.safeMode])

type Rule = 'STATIC' | 'SPLIT' | 'DEFAULT' | 'ERROR'

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v)

/**
 * Whether a stored value is malformed for evaluation: not an object, or, when present,
 * "enabled" not a boolean, "percentage" not a number from 0 to 100, "group" not a non-empty
 * string. public.validate_feature_flag refuses such values; public.flag_enabled applies the same
 * test, for when validation was bypassed.
 */
export function isMalformedFlagValue(value: unknown): boolean {
  if (!isObject(value)) return true
  if ('enabled' in value && typeof value.enabled !== 'boolean') return true
  if ('percentage' in value) {
    const p = value.percentage
    if (typeof p !== 'number' || !(p >= 0 && p <= 100)) return true
  }
  if ('group' in value && (typeof value.group !== 'string' || value.group === '')) return true
  return false
}

/**
 * The rules of public.flag_enabled(), as a pure function of a flag's stored value (`undefined`
 * when there is no such flag):
 * - no flag                                      -> false (DEFAULT)
 * - a malformed value (isMalformedFlagValue)     -> the fail-safe answer, FAIL_SAFE_VALUES
 *   (safe mode on, anything else off), rule ERROR: never a 100 % rollout by typo
 * - "enabled" not `true`                         -> false
 * - no "percentage"                              -> true
 * - a user                                       -> bucket(group or key, user) <= percentage
 * - no user: percentage >= 100 -> true; a partial rollout -> false, except a kill switch
 *   (global.safe_mode) with percentage > 0, which stays on.
 */
export function evaluateFlagValue(
  key: string,
  value: unknown,
  userId?: string | null,
  bucket: (seed: string, userId: string) => number = bucketOf,
): { value: boolean; rule: Rule } {
  if (value === undefined) return { value: false, rule: 'DEFAULT' }
  if (isMalformedFlagValue(value)) return { value: FAIL_SAFE_VALUES[key] ?? false, rule: 'ERROR' }
  const v = value as Record<string, unknown>
  if (v.enabled !== true) return { value: false, rule: 'STATIC' }
  const percentage = v.percentage
  if (typeof percentage !== 'number') return { value: true, rule: 'STATIC' }
  if (userId === undefined || userId === null) {
    if (percentage >= 100) return { value: true, rule: 'STATIC' }
    return { value: KILL_SWITCHES.has(key) && percentage > 0, rule: 'DEFAULT' }
  }
  const seed = typeof v.group === 'string' ? v.group : key
  return { value: bucket(seed, userId) <= percentage, rule: 'SPLIT' }
}

export interface FlagStoreOptions {
  /** Client used to read public.feature_flags (one query for all flags). */
  sql?: Sql
  /** Replaces the query (tests); exactly one of `sql` and `load` is required. */
  load?: () => Promise<readonly FlagRow[]>
  /** How long loaded values are served without asking the database. Default 5000 ms. */
  ttlMs?: number
  /** How long after the last successful load the last known values are served. Default 60000. */
  staleMs?: number
  /** Least time between refresh attempts after a failure, so an outage is not hammered. 1000. */
  retryMs?: number
  /** Longest a refresh may take before it counts as failed. Default 2000 ms. */
  refreshTimeoutMs?: number
  /** Clock in ms, injectable for tests. Default Date.now. */
  now?: () => number
  /** Told about each failed refresh (default: one console.error line). Must not throw. */
  onError?: (err: unknown) => void
}

export interface FlagStoreStatus {
  /** When values were last loaded (ms since epoch), or null if never. */
  loadedAt: number | null
  /** The last refresh failure, cleared by a successful refresh. */
  lastError: unknown
}

export interface FlagStore {
  /** Evaluates boolean flag `key`, for `userId` (a uuid) when given. */
  evaluate(key: string, userId?: string | null): Promise<Evaluation<boolean>>
  /** `evaluate(key, userId).value`. */
  isEnabled(key: string, userId?: string | null): Promise<boolean>
  /** Whether global.safe_mode applies (to `userId`, under a canary); true when failing safe. */
  isSafeMode(userId?: string | null): Promise<boolean>
  /** ranker.policy, with epsilon forced to 0 under safe mode (for `userId`) or failing safe. */
  rankerPolicy(userId?: string | null): Promise<RankerPolicy>
  /** Loads now, whatever the TTL says (shared with any refresh in flight); rejects on failure. */
  refresh(): Promise<void>
  status(): FlagStoreStatus
}

type Freshness = 'LOADED' | 'CACHED' | 'STALE' | 'ERROR'

interface Snapshot {
  values: ReadonlyMap<string, unknown>
  freshness: Freshness
}

const EMPTY: ReadonlyMap<string, unknown> = new Map()

// Buckets remembered per seed, so evaluating the same users again (the common case: a user's
// requests cluster) skips the hash. Bounded: a seed's map is dropped when it reaches this size.
const BUCKET_MEMO_MAX = 50_000

const defaultOnError = (err: unknown) => {
  const code = (err as { code?: unknown })?.code
  console.error(`[flags] refresh failed: ${typeof code === 'string' ? code : String(err)}`)
}

/** Creates the store; make one per isolate (module scope) and inject it. */
export function createFlagStore(options: FlagStoreOptions): FlagStore {
  const {
    sql,
    ttlMs = 5000,
    staleMs = 60_000,
    retryMs = 1000,
    refreshTimeoutMs = 2000,
    now = Date.now,
    onError = defaultOnError,
  } = options
  const load = options.load ??
    (sql
      ? async () => await sql<FlagRow[]>`select key, value from public.feature_flags`
      : undefined)
  if (!load) throw new Error('createFlagStore needs `sql` or `load`')

  let values: ReadonlyMap<string, unknown> | null = null
  let loadedAt = 0
  let lastError: unknown = null
  let nextAttemptAt = 0
  let inflight: Promise<void> | null = null
  // The one object handed out while the cache is fresh: no allocation on the hot path.
  let cached: Snapshot = { values: EMPTY, freshness: 'CACHED' }
  const memo = new Map<string, Map<string, number>>()
  const memoBucket = (seed: string, userId: string): number => {
    let bySeed = memo.get(seed)
    if (bySeed === undefined || bySeed.size >= BUCKET_MEMO_MAX) {
      bySeed = new Map()
      memo.set(seed, bySeed)
    }
    let b = bySeed.get(userId)
    if (b === undefined) {
      b = bucketOf(seed, userId)
      bySeed.set(userId, b)
    }
    return b
  }

  function refresh(): Promise<void> {
    // De-duplicated: concurrent callers share one query.
    inflight ??= (async () => {
      try {
        const rows = await withDeadline(load!(), refreshTimeoutMs)
        values = new Map(rows.map((r) => [r.key, r.value]))
        loadedAt = now()
        lastError = null
        cached = { values, freshness: 'CACHED' }
      } catch (err) {
        lastError = err
        nextAttemptAt = now() + retryMs
        try {
          onError(err)
        } catch { /* a logger must not break evaluation */ }
        throw err
      } finally {
        inflight = null
      }
    })()
    return inflight
  }

  async function slowSnapshot(): Promise<Snapshot> {
    if (inflight || now() >= nextAttemptAt) {
      try {
        await refresh()
        return { values: values!, freshness: 'LOADED' }
      } catch { /* judged below */ }
    }
    if (values !== null && now() - loadedAt < staleMs) return { values, freshness: 'STALE' }
    return { values: EMPTY, freshness: 'ERROR' }
  }

  // Synchronous while fresh, so a cached evaluation costs one microtask, not a query.
  const snapshot = (): Snapshot | Promise<Snapshot> =>
    values !== null && now() - loadedAt < ttlMs ? cached : slowSnapshot()

  function decide(snap: Snapshot, key: string, userId?: string | null): Evaluation<boolean> {
    if (snap.freshness === 'ERROR') {
      return { value: FAIL_SAFE_VALUES[key] ?? false, reason: 'ERROR' }
    }
    const { value, rule } = evaluateFlagValue(key, snap.values.get(key), userId, memoBucket)
    if (rule === 'ERROR') return { value, reason: 'ERROR' }
    if (snap.freshness === 'STALE') return { value, reason: 'STALE' }
    return { value, reason: rule === 'STATIC' && snap.freshness === 'CACHED' ? 'CACHED' : rule }
  }

  // Not `async`: while the cache is fresh the answer is computed synchronously and handed back
  // in an already-resolved promise, which is what keeps cached evaluations above 1M/s.
  function evaluate(key: string, userId?: string | null): Promise<Evaluation<boolean>> {
    const snap = snapshot()
    return snap instanceof Promise
      ? snap.then((s) => decide(s, key, userId))
      : Promise.resolve(decide(snap, key, userId))
  }

  function isEnabled(key: string, userId?: string | null): Promise<boolean> {
    const snap = snapshot()
    return snap instanceof Promise
      ? snap.then((s) => decide(s, key, userId).value)
      : Promise.resolve(decide(snap, key, userId).value)
  }

  async function rankerPolicy(userId?: string | null): Promise<RankerPolicy> {
    const snap = await snapshot()
    if (snap.freshness === 'ERROR') {
      return { version: DEFAULT_RANKER_VERSION, epsilon: 0, safeMode: true, reason: 'ERROR' }
    }
    const safe = decide(snap, FLAG_KEYS.safeMode, userId)
    const stored = snap.values.get(FLAG_KEYS.rankerPolicy)
    const valid = isObject(stored) && typeof stored.version === 'string' &&
      stored.version !== '' && typeof stored.epsilon === 'number' && stored.epsilon >= 0 &&
      stored.epsilon <= 1
    const version = valid ? stored.version as string : DEFAULT_RANKER_VERSION
    const stale = snap.freshness === 'STALE'
    if (safe.value) {
      const reason = safe.reason === 'ERROR' ? 'ERROR' : stale ? 'STALE' : 'TARGETING_MATCH'
      return { version, epsilon: 0, safeMode: true, reason }
    }
    if (!valid) {
      return { version, epsilon: 0, safeMode: false, reason: stale ? 'STALE' : 'DEFAULT' }
    }
    const reason = stale ? 'STALE' : snap.freshness === 'CACHED' ? 'CACHED' : 'STATIC'
    return { version, epsilon: stored.epsilon as number, safeMode: false, reason }
  }

  return {
    evaluate,
    isEnabled,
    isSafeMode: (userId) => isEnabled(FLAG_KEYS.safeMode, userId),
    rankerPolicy,
    refresh,
    status: () => ({ loadedAt: values === null ? null : loadedAt, lastError }),
  }
}
