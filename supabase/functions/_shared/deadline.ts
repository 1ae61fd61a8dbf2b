// Bounds how long a caller waits for a promise, so a stuck dependency cannot hang a request.

/** The work did not settle within its deadline. */
export class DeadlineError extends Error {
  override readonly name = 'DeadlineError'
  constructor(readonly ms: number) {
    super(`Deadline of ${ms} ms exceeded`)
  }
}

/**
 * Settles like `work`, or rejects with DeadlineError once `ms` have passed. The work itself is not
 * cancelled (a promise cannot be); callers that can cancel should do so on DeadlineError.
 */
export function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(ms)), ms)
  })
  // If the deadline wins, the abandoned work may still reject later; that must not surface as an
  // unhandled rejection and crash the isolate.
  work.catch(() => {})
  // Clearing the timer lets the isolate (and Deno's test sanitizers) finish without waiting on it.
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer))
}
