import assert from 'node:assert/strict'
import * as Sentry from '@sentry/deno'
import { createErrorReporter, type SentryModule } from './sentry.ts'
import { KERNEL_VERSION } from './version.ts'

const CTX = { app: 'demo', requestId: 'r1', method: 'GET', path: '/demo/boom' }

/** A loader that counts its calls and hands over the real SDK. */
function countingLoader() {
  const loader = { calls: 0, load: () => (loader.calls++, Promise.resolve(Sentry as SentryModule)) }
  return loader
}

/** A stand-in for Sentry's ingest on 127.0.0.1 that collects every envelope posted to it. */
function fakeSentry() {
  const envelopes: { path: string; items: unknown[] }[] = []
  let arrived = () => {}
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async (req) => {
    const lines = (await req.text()).split('\n').filter((l) => l !== '')
    envelopes.push({ path: new URL(req.url).pathname, items: lines.map((l) => JSON.parse(l)) })
    arrived()
    return new Response('{}', { headers: { 'content-type': 'application/json' } })
  })
  return {
    dsn: `http://publickey@127.0.0.1:${server.addr.port}/42`,
    envelopes,
    /** Resolves once an envelope has arrived, or rejects after `ms`. */
    next(ms = 5000): Promise<void> {
      if (envelopes.length > 0) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no envelope within ${ms} ms`)), ms)
        arrived = () => (clearTimeout(timer), resolve())
      })
    },
    close: () => server.shutdown(),
  }
}

Deno.test('without SENTRY_DSN the reporter never loads the SDK, so nothing is initialised or sent', () => {
  const loader = countingLoader()
  const report = createErrorReporter({}, { loadSdk: loader.load })
  // With a DSN the loader is called synchronously inside report(), so no waiting is needed.
  report(new Error('boom'), CTX)
  report(new Error('again'), CTX)
  assert.equal(loader.calls, 0)
})

Deno.test('with SENTRY_DSN an error reaches Sentry with its request tags and the release', async () => {
  const ingest = fakeSentry()
  const loader = countingLoader()
  try {
    const report = createErrorReporter({ SENTRY_DSN: ingest.dsn }, { loadSdk: loader.load })
    assert.equal(loader.calls, 0, 'the SDK is loaded on the first error, not at start-up')

    report(new Error('boom'), CTX)
    await ingest.next()
    assert.equal(loader.calls, 1)
    assert.equal(ingest.envelopes.length, 1)
    const { path, items } = ingest.envelopes[0]
    assert.equal(path, '/api/42/envelope/')
    const event = items.find((item) =>
      (item as { exception?: unknown }).exception !== undefined
    ) as {
      exception: { values: { type: string; value: string }[] }
      tags: Record<string, string>
      contexts: { request: { method: string; path: string } }
      release: string
    }
    assert.ok(event, 'the envelope carries an exception event')
    assert.deepEqual(event.exception.values.map((v) => [v.type, v.value]), [['Error', 'boom']])
    assert.deepEqual(event.tags, { app: 'demo', request_id: 'r1' })
    assert.deepEqual(event.contexts.request, { method: 'GET', path: '/demo/boom' })
    assert.equal(event.release, `edge-kernel@${KERNEL_VERSION}`)

    report(new Error('second'), CTX)
    await Sentry.flush(5000)
    assert.equal(loader.calls, 1, 'the SDK is loaded once per reporter')
    assert.equal(ingest.envelopes.length, 2)
  } finally {
    await Sentry.close(2000)
    await ingest.close()
  }
})
