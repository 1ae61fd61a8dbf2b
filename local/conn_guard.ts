// Deno.serve with the connection timeouts it lacks: a client must finish a request's headers
// within `headersTimeoutMs`, and a connection on which nothing happens for `idleTimeoutMs`
// (between requests, or in the middle of a request body) is closed. Without them one client
// sending a header a byte at a time, or opening connections and saying nothing, holds sockets
// and memory for as long as it likes (Deno.serve has no header timeout option, and node:http's
// headersTimeout / requestTimeout are ignored by Deno's implementation).
//
// How: the public port is a plain TCP listener that pipes each connection to the real server on
// a loopback port, reading just enough of HTTP/1.1's framing (request heads, Content-Length and
// chunked bodies) to know which phase the connection is in. The handler's own time is never
// limited here: while a request is being answered the connection is busy, not idle.

/** The limits, in milliseconds. */
export interface ConnGuardLimits {
  /** From a request's first byte to the end of its headers. Default 20 s. */
  headersTimeoutMs: number
  /**
   * Longest silence on a connection that is not waiting for an answer: between requests
   * (keep-alive) or within a request body. Default 30 s.
   */
  idleTimeoutMs: number
}

export const DEFAULT_CONN_GUARD_LIMITS: ConnGuardLimits = {
  // Well under the 60 s nginx and Node allow: a local client that has not sent its headers
  // in 20 s is stuck or hostile.
  headersTimeoutMs: 20_000,
  // Under the 75 s nginx keeps an idle connection, and over the few seconds clients that pool
  // connections (fetch, pg_net) let one rest between requests.
  idleTimeoutMs: 30_000,
}

export interface GuardedServeOptions extends Partial<ConnGuardLimits> {
  hostname: string
  /** 0 picks a free port. */
  port: number
  signal?: AbortSignal
}

export interface GuardedServer {
  addr: Deno.NetAddr
  /** Resolves once the server has stopped (after `signal` fired or shutdown()). */
  finished: Promise<void>
  shutdown(): Promise<void>
}

// Where a connection is in its current request.
type Phase =
  | 'idle' // between requests
  | 'head' // request line and headers
  | 'body' // a Content-Length body
  | 'chunk-size' // a chunked body's size line
  | 'chunk-data'
  | 'chunk-end' // the CRLF after a chunk's data
  | 'trailers'
  | 'opaque' // framing we do not follow (an upgrade, HTTP/2, a malformed head): idle rule only

// Head bytes kept for reading the framing headers; a longer head is still timed, and its
// framing left to the server (which refuses heads that large anyway).
const MAX_HEAD_BYTES = 64 * 1024
const MAX_LINE_BYTES = 1024
const LF = 10
const CR = 13
const READ_BUFFER_BYTES = 64 * 1024

/** One client connection's framing state, fed the bytes the client sends. */
export class RequestFramer {
  phase: Phase = 'idle'
  /** When the current head began (Date.now()). */
  headStartedAt = 0
  private head: number[] = []
  private headComplete = true
  private lineLength = 0
  private line: number[] = []
  private remaining = 0

  constructor(private readonly now: () => number = Date.now) {}

  /** Advances over `bytes` from the client. */
  feed(bytes: Uint8Array): void {
    let i = 0
    while (i < bytes.length) {
      switch (this.phase) {
        case 'opaque':
          return
        case 'body':
        case 'chunk-data': {
          const take = Math.min(this.remaining, bytes.length - i)
          this.remaining -= take
          i += take
          if (this.remaining === 0) this.phase = this.phase === 'body' ? 'idle' : 'chunk-end'
          break
        }
        case 'idle': {
          const b = bytes[i]
          // Empty lines before a request line are allowed (RFC 9112 §2.2).
          if (b === CR || b === LF) {
            i++
            break
          }
          this.phase = 'head'
          this.headStartedAt = this.now()
          this.head = []
          this.headComplete = true
          this.lineLength = 0
          break
        }
        case 'head': {
          const b = bytes[i++]
          if (this.head.length < MAX_HEAD_BYTES) this.head.push(b)
          else this.headComplete = false
          if (this.endOfBlankLine(b)) this.startBody()
          break
        }
        case 'chunk-size': {
          const b = bytes[i++]
          if (b !== LF) {
            if (this.line.length < MAX_LINE_BYTES) this.line.push(b)
            break
          }
          const text = String.fromCharCode(...this.line).split(';')[0].trim()
          this.line = []
          const size = /^[0-9a-fA-F]{1,12}$/.test(text) ? parseInt(text, 16) : NaN
          if (Number.isNaN(size)) this.phase = 'opaque'
          else if (size === 0) {
            this.phase = 'trailers'
            this.lineLength = 0
          } else {
            this.phase = 'chunk-data'
            this.remaining = size
          }
          break
        }
        case 'chunk-end':
          if (bytes[i++] === LF) this.phase = 'chunk-size'
          break
        case 'trailers':
          if (this.endOfBlankLine(bytes[i++])) this.phase = 'idle'
          break
      }
    }
  }

  // Tracks lines; true at the LF that ends an empty line (CR is not counted).
  private endOfBlankLine(b: number): boolean {
    if (b === CR) return false
    if (b !== LF) {
      this.lineLength++
      return false
    }
    const blank = this.lineLength === 0
    this.lineLength = 0
    return blank
  }

  // The head is complete: find how its body is framed.
  private startBody(): void {
    const lines =
      (this.headComplete ? new TextDecoder('latin1').decode(new Uint8Array(this.head)) : '')
        .split('\n')
    this.head = []
    if (!this.headComplete || /^PRI \* HTTP\/2/.test(lines[0])) {
      this.phase = 'opaque'
      return
    }
    let length: string | undefined
    let chunked = false
    for (const raw of lines.slice(1)) {
      const colon = raw.indexOf(':')
      if (colon < 0) continue
      const name = raw.slice(0, colon).trim().toLowerCase()
      const value = raw.slice(colon + 1).trim().toLowerCase()
      if (name === 'transfer-encoding') chunked = /(^|,)\s*chunked\s*$/.test(value)
      else if (name === 'content-length') length = value
      else if (name === 'upgrade') {
        // The connection may become another protocol; its bytes are no longer HTTP/1.1.
        this.phase = 'opaque'
        return
      }
    }
    if (chunked) {
      this.phase = 'chunk-size'
      this.line = []
    } else if (length === undefined || length === '0') {
      this.phase = 'idle'
    } else if (/^[0-9]{1,15}$/.test(length)) {
      this.phase = 'body'
      this.remaining = Number(length)
    } else {
      this.phase = 'opaque' // the server refuses it and closes the connection
    }
  }
}

/** One proxied connection: the client's and the server's sockets, and what is going on. */
class GuardedConn {
  readonly framer: RequestFramer
  lastActivity: number
  /** Requests the handler is answering right now. */
  answering = 0
  private closed = false

  constructor(
    readonly client: Deno.Conn,
    readonly upstream: Deno.Conn,
    private readonly now: () => number,
  ) {
    this.framer = new RequestFramer(now)
    this.lastActivity = now()
  }

  /** Whether the limits say this connection must go. */
  expired(limits: ConnGuardLimits, at: number): boolean {
    const { phase } = this.framer
    if (phase === 'head') return at - this.framer.headStartedAt > limits.headersTimeoutMs
    // Waiting for the handler is not idleness; its own limits apply to it.
    if ((phase === 'idle' || phase === 'opaque') && this.answering > 0) return false
    return at - this.lastActivity > limits.idleTimeoutMs
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const conn of [this.client, this.upstream]) {
      try {
        conn.close()
      } catch { /* already closed */ }
    }
  }

  /** Copies bytes one way until either side ends, then closes both. */
  async pipe(from: Deno.Conn, to: Deno.Conn, fromClient: boolean): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER_BYTES)
    try {
      for (;;) {
        const n = await from.read(buffer)
        if (n === null) break
        const chunk = buffer.subarray(0, n)
        this.lastActivity = this.now()
        if (fromClient) this.framer.feed(chunk)
        for (let off = 0; off < n;) off += await to.write(chunk.subarray(off))
      }
    } catch {
      // A reset or a close from the other direction: the connection is over either way.
    } finally {
      // A client that stops sending has gone (Deno.serve treats it so too), and after the
      // server closes there is nothing more to relay.
      this.close()
    }
  }
}

/**
 * Serves `handler` like Deno.serve on `hostname:port`, with the header and idle timeouts of
 * `options` (DEFAULT_CONN_GUARD_LIMITS where unset).
 */
export function serveGuarded(
  options: GuardedServeOptions,
  handler: (req: Request) => Response | Promise<Response>,
  now: () => number = Date.now,
): GuardedServer {
  const limits: ConnGuardLimits = {
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_CONN_GUARD_LIMITS.headersTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_CONN_GUARD_LIMITS.idleTimeoutMs,
  }
  const stop = new AbortController()
  options.signal?.addEventListener('abort', () => stop.abort(), { once: true })
  // Keyed by the upstream socket's local port, which is the inner server's view of the client.
  const conns = new Map<number, GuardedConn>()

  const inner = Deno.serve(
    { hostname: '127.0.0.1', port: 0, signal: stop.signal, onListen: () => {} },
    async (req, info) => {
      const conn = conns.get(info.remoteAddr.port)
      if (conn) conn.answering++
      try {
        return await handler(req)
      } finally {
        if (conn) {
          conn.answering--
          conn.lastActivity = now()
        }
      }
    },
  )
  const listener = Deno.listen({ hostname: options.hostname, port: options.port })

  // One sweep for all connections: a timer per connection re-armed on every read would cost
  // more than the check. A connection is closed at most a quarter of its limit late.
  const sweepEvery = Math.max(10, Math.min(limits.headersTimeoutMs, limits.idleTimeoutMs) / 4)
  const sweeper = setInterval(() => {
    const at = now()
    for (const conn of conns.values()) if (conn.expired(limits, at)) conn.close()
  }, sweepEvery)

  const accepting = (async () => {
    for (;;) {
      let client: Deno.Conn
      try {
        client = await listener.accept()
      } catch {
        return // the listener was closed
      }
      serveConnection(client).catch(() => client.close())
    }
  })()

  async function serveConnection(client: Deno.Conn): Promise<void> {
    const upstream = await Deno.connect({ hostname: '127.0.0.1', port: inner.addr.port })
    const conn = new GuardedConn(client, upstream, now)
    const port = (upstream.localAddr as Deno.NetAddr).port
    conns.set(port, conn)
    await Promise.all([conn.pipe(client, upstream, true), conn.pipe(upstream, client, false)])
    conns.delete(port)
  }

  stop.signal.addEventListener('abort', () => {
    clearInterval(sweeper)
    try {
      listener.close()
    } catch { /* already closed */ }
    for (const conn of conns.values()) conn.close()
  }, { once: true })

  const finished = Promise.all([accepting, inner.finished]).then(() => {})
  return {
    addr: listener.addr as Deno.NetAddr,
    finished,
    shutdown() {
      stop.abort()
      return finished
    },
  }
}
