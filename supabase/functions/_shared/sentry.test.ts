import assert from 'node:assert/strict'
import * as Sentry from '@sentry/deno'
import { settled } from './background.ts'
import { createDb } from './db.ts'
import { createErrorReporter, type SentryModule } from './sentry.ts'
import { NO_SPANS } from './spans.ts'
import { createFunctionApp } from './wiring.ts'
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
  const scheduled: Promise<unknown>[] = []
  try {
    const report = createErrorReporter(
      { SENTRY_DSN: ingest.dsn, SB_REGION: 'eu-central-1', SB_EXECUTION_ID: 'exec-7' },
      { loadSdk: loader.load, schedule: (work) => scheduled.push(work) },
    )
    assert.equal(loader.calls, 0, 'the SDK is loaded on the first error, not at start-up')

    report(new Error('boom'), CTX)
    // The capture and its flush are handed to waitUntil; once that settles the envelope is in.
    assert.equal(scheduled.length, 1)
    await scheduled[0]
    assert.equal(ingest.envelopes.length, 1)
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
    assert.deepEqual(event.tags, {
      function: 'demo',
      request_id: 'r1',
      region: 'eu-central-1',
      execution_id: 'exec-7',
    })
    assert.deepEqual(event.contexts.request, { method: 'GET', path: '/demo/boom' })
    assert.equal(event.release, `edge-kernel@${KERNEL_VERSION}`)

    // Another request's error gets its own scope: its own request id, nothing left over.
    report(new Error('second'), { ...CTX, requestId: 'r2', path: '/demo/other' })
    await scheduled[1]
    assert.equal(loader.calls, 1, 'the SDK is loaded once per reporter')
    assert.equal(ingest.envelopes.length, 2)
    const second = ingest.envelopes[1].items.find((item) =>
      (item as { exception?: unknown }).exception !== undefined
    ) as { tags: Record<string, string>; contexts: { request: { path: string } } }
    assert.equal(second.tags.request_id, 'r2')
    assert.equal(second.contexts.request.path, '/demo/other')
  } finally {
    await Sentry.close(2000)
    await ingest.close()
  }
})

Deno.test('outside the edge runtime the tags carry no region or execution id', async () => {
  const ingest = fakeSentry()
  const scheduled: Promise<unknown>[] = []
  try {
    const report = createErrorReporter({ SENTRY_DSN: ingest.dsn }, {
      loadSdk: countingLoader().load,
      schedule: (work) => scheduled.push(work),
    })
    report(new Error('local'), CTX)
    await scheduled[0]
    const event = ingest.envelopes[0].items.find((item) =>
      (item as { exception?: unknown }).exception !== undefined
    ) as { tags: Record<string, string> }
    assert.deepEqual(event.tags, { function: 'demo', request_id: 'r1' })
  } finally {
    await Sentry.close(2000)
    await ingest.close()
  }
})

Deno.test('an unexpected error in a function app reaches Sentry tagged with the function', async () => {
  const ingest = fakeSentry()
  try {
    const app = createFunctionApp('demo-fn', {
      sql: createDb('postgres://postgres:postgres@127.0.0.1:1/postgres'),
      env: { SENTRY_DSN: ingest.dsn, SB_REGION: 'us-east-1' },
      spans: NO_SPANS,
    })
    app.get('/boom', () => {
      throw new Error('kaboom')
    })
    const res = await app.request('/demo-fn/boom', { headers: { 'x-request-id': 'req-123' } })
    assert.equal(res.status, 500)
    // The report runs through background.ts's waitUntil shim.
    await settled()
    const event = ingest.envelopes[0].items.find((item) =>
      (item as { exception?: unknown }).exception !== undefined
    ) as { tags: Record<string, string>; exception: { values: { value: string }[] } }
    assert.deepEqual(event.tags, {
      function: 'demo-fn',
      request_id: 'req-123',
      region: 'us-east-1',
    })
    assert.equal(event.exception.values[0].value, 'kaboom')
  } finally {
    await Sentry.close(2000)
    await ingest.close()
  }
})
