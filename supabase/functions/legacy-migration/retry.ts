// Bounded retries with capped exponential backoff and full jitter, for Storage calls: a
// transient failure (network, 429, 5xx) is tried again after a random wait that doubles each
// time, so many runs failing together do not retry in lockstep.

export interface RetryOptions {
  /** Tries in all, the first included (>= 1). */
  attempts: number
  /** Backoff before the second try, before jitter. Default 100 ms. */
  baseDelayMs?: number
  /** Longest wait between two tries. Default 2000 ms. */
  maxDelayMs?: number
  /** Whether an error is worth another try. Default: every error. */
  retryable?: (err: unknown) => boolean
  /** Called before each wait. Default: nothing. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void
  /** Default setTimeout; tests pass one that does not wait. */
  sleep?: (ms: number) => Promise<void>
  /** Floats in [0, 1) for jitter. Default Math.random. */
  random?: () => number
}

export const RETRY_DEFAULTS = { baseDelayMs: 100, maxDelayMs: 2000 } as const

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** The wait after failed try number `attempt` (1-based): uniform in [0, min(max, base·2^(attempt−1))). */
export function backoffDelay(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
  return Math.floor(random() * ceiling)
}

/** Runs `fn` (given the try number, 1-based) until it succeeds, a try fails for good, or tries run out. */
export async function withRetries<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const {
    attempts,
    baseDelayMs = RETRY_DEFAULTS.baseDelayMs,
    maxDelayMs = RETRY_DEFAULTS.maxDelayMs,
    retryable = () => true,
    onRetry,
    sleep = realSleep,
    random = Math.random,
  } = options
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(`attempts must be an integer >= 1, got ${attempts}`)
  }
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt)
    } catch (err) {
      if (attempt >= attempts || !retryable(err)) throw err
      const delayMs = backoffDelay(attempt, baseDelayMs, maxDelayMs, random)
      onRetry?.(err, attempt, delayMs)
      await sleep(delayMs)
    }
  }
}
