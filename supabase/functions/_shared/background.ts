// Work that runs after the response has gone: span and metric flushes, Sentry's flush. On
// Supabase's edge runtime EdgeRuntime.waitUntil keeps the isolate alive until the promise
// settles; a plain Deno process (the local stack, tests, the gateway) lives on by itself, so
// there the promise simply runs. Either way it is tracked, so tests and shutdown can wait for it.

interface EdgeRuntimeGlobal {
  waitUntil(promise: Promise<unknown>): void
}

const pending = new Set<Promise<unknown>>()

/**
 * Runs `promise` to completion without making anyone wait for it. A rejection is logged, never
 * thrown: background work must not turn into an unhandled rejection that kills the isolate.
 */
export function waitUntil(promise: Promise<unknown>): void {
  const guarded = promise.then(
    () => {},
    (err) => console.error('background task failed:', err),
  ).finally(() => pending.delete(guarded))
  pending.add(guarded)
  const runtime = (globalThis as { EdgeRuntime?: EdgeRuntimeGlobal }).EdgeRuntime
  if (typeof runtime?.waitUntil === 'function') runtime.waitUntil(guarded)
}

/** Resolves once every background task started so far (and any they start) has settled. */
export async function settled(): Promise<void> {
  while (pending.size > 0) await Promise.all([...pending])
}
