// What the gateway refuses before anything runs (bodies over their cap, methods nothing behind
// it can take, connections that never finish a request) and what it passes on (a caller that
// gave up).
import assert from 'node:assert/strict'
import { withStubGateway } from './gateway_testing.ts'
import { testStackEnv } from './testing.ts'

const env = testStackEnv()
const MiB = 1024 * 1024

/** One raw HTTP/1.1 exchange (for methods fetch() refuses to send); returns status and body. */
async function rawRequest(url: string, head: string) {
  const { hostname, port } = new URL(url)
  const conn = await Deno.connect({ hostname, port: Number(port) })
  await conn.write(new TextEncoder().encode(`${head}\r\nHost: x\r\nConnection: close\r\n\r\n`))
  let text = ''
  const buffer = new Uint8Array(4096)
  for (;;) {
    const n = await conn.read(buffer).catch(() => null)
    if (n === null) break
    text += new TextDecoder().decode(buffer.subarray(0, n))
  }
  conn.close()
  const [headers, body] = text.split('\r\n\r\n')
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1]),
    allow: /^allow: (.*)$/im.exec(headers)?.[1]?.trim() ?? null,
    body,
  }
}

/** A body of `bytes` bytes sent as a stream, so it carries no Content-Length. */
function streamOf(bytes: number, chunk = 64 * 1024): ReadableStream<Uint8Array> {
  let sent = 0
  return new ReadableStream({
    pull(controller) {
      if (sent >= bytes) return controller.close()
      const n = Math.min(chunk, bytes - sent)
      sent += n
      controller.enqueue(new Uint8Array(n).fill(120))
    },
  })
}

Deno.test('TRACE and TRACK are a 405 with Allow, never a 5xx', async () => {
  for (const method of ['TRACE', 'TRACK']) {
    for (const path of ['/functions/v1/health', '/rest/v1/rpc/health_check', '/auth/v1/user']) {
      const res = await rawRequest(env.apiUrl, `${method} ${path} HTTP/1.1`)
      assert.equal(res.status, 405, `${method} ${path}: ${res.body}`)
      assert.match(res.allow ?? '', /GET/)
      assert.doesNotMatch(res.allow ?? '', /TRACE|TRACK/)
      assert.equal(JSON.parse(res.body).error.code, 'method_not_allowed')
    }
  }
})

Deno.test('a function called with a method it has no route for is a 405 naming its own', async () => {
  const res = await fetch(`${env.apiUrl}/functions/v1/health`, { method: 'PUT' })
  assert.equal(res.status, 405)
  assert.equal(res.headers.get('allow'), 'GET, HEAD')
  assert.equal((await res.json()).error.code, 'method_not_allowed')
})

Deno.test('a function body over the cap is a 413 that never reaches the function', async () => {
  await withStubGateway(
    { verifyJwt: false, jwtSecret: env.jwtSecret, limits: { functionBytes: MiB } },
    async (base, seen) => {
      const declared = await fetch(`${base}/functions/v1/stub`, {
        method: 'POST',
        body: new Uint8Array(MiB + 1),
      })
      assert.equal(declared.status, 413)
      const body = await declared.json()
      assert.equal(body.error.code, 'payload_too_large')
      assert.match(body.error.message, /1048576 bytes/)
      assert.deepEqual(seen, [])
    },
  )
})

Deno.test('a streamed function body is counted on the way and cut at the cap', async () => {
  let received = 0
  const upstream = async (req: Request) => {
    try {
      for await (const chunk of req.body!) received += chunk.byteLength
    } catch { /* the gateway cut the body off */ }
    return Response.json({ received })
  }
  await withStubGateway(
    { verifyJwt: false, jwtSecret: env.jwtSecret, limits: { functionBytes: 4 * MiB }, upstream },
    async (base) => {
      // Under the cap (and over what the gateway would buffer): passed through whole.
      const ok = await fetch(`${base}/functions/v1/stub`, {
        method: 'POST',
        body: streamOf(3 * MiB),
        duplex: 'half',
      } as RequestInit)
      assert.equal(ok.status, 200)
      assert.deepEqual(await ok.json(), { received: 3 * MiB })
      // Over it: a 413, and the function never got more than the cap.
      received = 0
      const over = await fetch(`${base}/functions/v1/stub`, {
        method: 'POST',
        body: streamOf(16 * MiB),
        duplex: 'half',
      } as RequestInit).catch((err) => err as Error)
      if (over instanceof Response) {
        assert.equal(over.status, 413)
        assert.equal((await over.json()).error.code, 'payload_too_large')
      }
      assert.ok(received <= 4 * MiB, `the function received ${received} bytes`)
    },
  )
})

Deno.test('an RPC argument over the API cap is a 413, before Postgres', async () => {
  const res = await fetch(`${env.apiUrl}/rest/v1/rpc/ack_events`, {
    method: 'POST',
    headers: {
      apikey: env.serviceRoleKey,
      authorization: `Bearer ${env.serviceRoleKey}`,
      'content-type': 'application/json',
    },
    body: JSON.stringify({ p_ids: Array(2 * MiB / 2).fill(1), p_lease_token: crypto.randomUUID() }),
  })
  assert.equal(res.status, 413)
  assert.match((await res.json()).message, /exceeds 1048576 bytes/)
})

Deno.test('Auth bodies are capped like RPC ones; Storage keeps its own, larger limits', async () => {
  const big = JSON.stringify({ email: 'a@example.test', password: 'x'.repeat(2 * MiB) })
  const auth = await fetch(`${env.apiUrl}/auth/v1/signup`, {
    method: 'POST',
    headers: { apikey: env.anonKey, 'content-type': 'application/json' },
    body: big,
  })
  assert.equal(auth.status, 413)
  await auth.body?.cancel()
  // 2 MiB to Storage is its business (here: a bucket that does not exist), not the gateway's.
  const storage = await fetch(`${env.apiUrl}/storage/v1/object/no-such-bucket/file.bin`, {
    method: 'POST',
    headers: {
      apikey: env.serviceRoleKey,
      authorization: `Bearer ${env.serviceRoleKey}`,
      'content-type': 'application/octet-stream',
    },
    body: new Uint8Array(2 * MiB),
  })
  assert.notEqual(storage.status, 413)
  assert.ok(storage.status < 500, `storage answered ${storage.status}`)
  await storage.body?.cancel()
})

Deno.test('a caller that gives up aborts the request the function is running', async () => {
  let aborted = false
  const upstream = (req: Request) =>
    new Promise<Response>((resolve) => {
      const timer = setTimeout(() => resolve(new Response('finished')), 5000)
      req.signal.addEventListener('abort', () => {
        aborted = true
        clearTimeout(timer)
        resolve(new Response('aborted'))
      })
    })
  await withStubGateway({ verifyJwt: false, jwtSecret: env.jwtSecret, upstream }, async (base) => {
    const caller = new AbortController()
    setTimeout(() => caller.abort(), 200)
    await fetch(`${base}/functions/v1/stub`, { method: 'POST', body: '{}', signal: caller.signal })
      .catch(() => {})
    const deadline = Date.now() + 3000
    while (!aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25))
    assert.ok(aborted, "the function's request signal did not fire")
  })
})

Deno.test('the gateway closes a connection that never finishes its headers', async () => {
  // The test stack runs the gateway with a 1 s headers limit (local/run_tests.ts).
  const { hostname, port } = new URL(env.apiUrl)
  const conn = await Deno.connect({ hostname, port: Number(port) })
  await conn.write(new TextEncoder().encode('POST /functions/v1/health HTTP/1.1\r\nHost: x\r\n'))
  const started = Date.now()
  const giveUp = setTimeout(() => conn.close(), 10_000)
  const n = await conn.read(new Uint8Array(1024)).catch(() => null)
  clearTimeout(giveUp)
  const closedAfterMs = Date.now() - started
  try {
    conn.close()
  } catch { /* closed by the give-up timer */ }
  assert.equal(n, null)
  assert.ok(closedAfterMs < 5000, `closed after ${closedAfterMs} ms`)
})

Deno.test('a 404 repeats only the start of a long path', async () => {
  for (const path of [`/nothing/${'x'.repeat(20_000)}`, `/functions/v1/${'y'.repeat(20_000)}`]) {
    const res = await fetch(`${env.apiUrl}${path}`)
    assert.equal(res.status, 404)
    const { message } = (await res.json()).error
    assert.ok(message.length < 1000, `${message.length} characters`)
  }
})
