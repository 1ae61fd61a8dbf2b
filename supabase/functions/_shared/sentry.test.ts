import assert from 'node:assert/strict'
import { createErrorReporter } from './sentry.ts'

Deno.test('without SENTRY_DSN the reporter is a silent no-op', () => {
  const report = createErrorReporter({})
  const ctx = { app: 'demo', requestId: 'r1', method: 'GET', path: '/demo' }
  assert.equal(report(new Error('boom'), ctx), undefined)
})
