// The gateway's connection timeouts, over raw sockets: a slow or silent client is cut off at
// the limits, while requests (with either body framing, kept alive, pipelined, or answered
// slowly) go through untouched.
import assert from 'node:assert/strict'
import { RequestFramer, serveGuarded } from './conn_guard.ts'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

async function withServer(
  limits: { headersTimeoutMs: number; idleTimeoutMs: number },
  fn: (port: number) => Promise<void>,
  handler: (req: Request) => Promise<Response> = async (req) =>
    // A body cut off by the guard fails to read; the answer is never seen then anyway.
    new Response(
      `${req.method} ${new URL(req.url).pathname} ${(await req.text().catch(() => '')).length}`,
    ),
) {
  const server = serveGuarded({ hostname: '127.0.0.1', port: 0, ...limits }, handler)
  try {
    await fn(server.addr.port)
  } finally {
    await server.shutdown()
  }
}

/** Reads until the server closes the connection; resolves to what it sent and when it closed. */
async function readUntilClosed(conn: Deno.Conn, giveUpMs = 10_000) {
  const started = Date.now()
  let text = ''
  const buffer = new Uint8Array(4096)
  const timer = setTimeout(() => conn.close(), giveUpMs)
  try {
    for (;;) {
      const n = await conn.read(buffer).catch(() => null)
      if (n === null) break
      text += decoder.decode(buffer.subarray(0, n))
    }
  } finally {
    clearTimeout(timer)
  }
  try {
    conn.close()
  } catch { /* closed by the give-up timer */ }
  return { text, closedAfterMs: Date.now() - started }
}

Deno.test('a connection that sends a partial header is closed at the headers limit', async () => {
  await withServer({ headersTimeoutMs: 300, idleTimeoutMs: 10_000 }, async (port) => {
    const conn = await Deno.connect({ hostname: '127.0.0.1', port })
    await conn.write(encoder.encode('GET / HTTP/1.1\r\nHost: x\r\n'))
    const { text, closedAfterMs } = await readUntilClosed(conn)
    assert.equal(text, '')
    assert.ok(closedAfterMs >= 250 && closedAfterMs < 2000, `closed after ${closedAfterMs} ms`)
  })
})

Deno.test('sending a header a byte at a time does not extend the headers limit', async () => {
  await withServer({ headersTimeoutMs: 300, idleTimeoutMs: 10_000 }, async (port) => {
    const conn = await Deno.connect({ hostname: '127.0.0.1', port })
    const started = Date.now()
    const dribble = (async () => {
      for (const byte of encoder.encode('GET / HTTP/1.1\r\nX-Slow: ' + 'a'.repeat(100))) {
        if (await conn.write(new Uint8Array([byte])).catch(() => null) === null) return
        await new Promise((r) => setTimeout(r, 20))
      }
    })()
    await readUntilClosed(conn)
    const closedAfterMs = Date.now() - started
    await dribble
    assert.ok(closedAfterMs < 2000, `closed after ${closedAfterMs} ms`)
  })
})

Deno.test('a silent or idle kept-alive connection is closed at the idle limit', async () => {
  await withServer({ headersTimeoutMs: 10_000, idleTimeoutMs: 300 }, async (port) => {
    const silent = await Deno.connect({ hostname: '127.0.0.1', port })
    const idle = await Deno.connect({ hostname: '127.0.0.1', port })
    await idle.write(encoder.encode('GET /one HTTP/1.1\r\nHost: x\r\n\r\n'))
    const [a, b] = await Promise.all([readUntilClosed(silent), readUntilClosed(idle)])
    assert.ok(a.closedAfterMs < 2000, `silent closed after ${a.closedAfterMs} ms`)
    assert.match(b.text, /^HTTP\/1\.1 200[\s\S]*GET \/one 0$/)
    assert.ok(b.closedAfterMs < 2000, `idle closed after ${b.closedAfterMs} ms`)
  })
})

Deno.test('a body that stops arriving is cut at the idle limit', async () => {
  await withServer({ headersTimeoutMs: 10_000, idleTimeoutMs: 300 }, async (port) => {
    const conn = await Deno.connect({ hostname: '127.0.0.1', port })
    await conn.write(encoder.encode('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab'))
    const { closedAfterMs } = await readUntilClosed(conn)
    assert.ok(closedAfterMs < 2000, `closed after ${closedAfterMs} ms`)
  })
})

Deno.test('a slow answer is not idleness: the handler may take longer than the limit', async () => {
  const slow = async () => {
    await new Promise((r) => setTimeout(r, 900))
    return new Response('late but here')
  }
  await withServer({ headersTimeoutMs: 300, idleTimeoutMs: 300 }, async (port) => {
    const res = await fetch(`http://127.0.0.1:${port}/`)
    assert.equal(await res.text(), 'late but here')
  }, slow)
})

Deno.test('pipelined requests with chunked and sized bodies all get answers', async () => {
  await withServer({ headersTimeoutMs: 2000, idleTimeoutMs: 400 }, async (port) => {
    const conn = await Deno.connect({ hostname: '127.0.0.1', port })
    await conn.write(encoder.encode(
      'POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n' +
        '5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n' +
        'POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' +
        '\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n',
    ))
    const { text } = await readUntilClosed(conn)
    const bodies = [...text.matchAll(/\r\n\r\n([A-Z]+ \/[a-z] \d+)/g)].map((m) => m[1])
    assert.deepEqual(bodies, ['POST /a 11', 'POST /b 3', 'GET /c 0'])
  })
})

Deno.test('the framer follows heads, sized and chunked bodies split anywhere', () => {
  const framer = new RequestFramer()
  const stream = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' +
    'POST / HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd' +
    'POST / HTTP/1.1\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n'
  for (const byte of encoder.encode(stream)) framer.feed(new Uint8Array([byte]))
  assert.equal(framer.phase, 'idle')
  framer.feed(encoder.encode('GET / HTTP/1.1\r\n'))
  assert.equal(framer.phase, 'head')
  framer.feed(encoder.encode('Upgrade: websocket\r\n\r\n'))
  assert.equal(framer.phase, 'opaque')
})
