// Request body caps for the gateway. A body over its cap is refused with 413 before it is read
// when its Content-Length says so, and otherwise as soon as the bytes counted pass the cap: no
// body is ever held in memory whole beyond the cap.

/** The caps, in bytes. */
export interface BodyLimits {
  /** Bodies sent to Edge Functions. Default 20 MiB. */
  functionBytes: number
  /** Bodies for the RPC route and Auth, which are read whole. Default 1 MiB. */
  apiBytes: number
}

export const DEFAULT_BODY_LIMITS: BodyLimits = {
  // Supabase publishes no request size limit for Edge Functions. 20 MiB bounds what one
  // request can make a function hold (an isolate has 256 MB) and leaves room for uploads; the
  // gateway itself streams these bodies through and never holds one whole.
  functionBytes: 20 * 1024 * 1024,
  // JSON arguments and GoTrue bodies are small; 1 MiB is the functions' own default
  // (_shared/http.ts), and keeps a 10 MB argument from ever reaching Postgres.
  apiBytes: 1024 * 1024,
}

/** Raised inside a capped stream once more than `maxBytes` have passed through it. */
export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError'
  constructor(readonly maxBytes: number) {
    super(`Request body exceeds ${maxBytes} bytes`)
  }
}

/** The declared Content-Length, or null when absent or not a plain number. */
export function declaredLength(req: Request): number | null {
  const value = req.headers.get('content-length')
  return value !== null && /^[0-9]+$/.test(value.trim()) ? Number(value) : null
}

/**
 * `body`, counted on its way through: past `maxBytes` the stream errors with
 * BodyTooLargeError, and `exceeded()` says so to whoever sees only the consumer's failure.
 */
export function capStream(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
): { stream: ReadableStream<Uint8Array>; exceeded: () => boolean } {
  let seen = 0
  const stream = body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength
        if (seen > maxBytes) controller.error(new BodyTooLargeError(maxBytes))
        else controller.enqueue(chunk)
      },
    }),
  )
  return { stream, exceeded: () => seen > maxBytes }
}

/**
 * The whole body, read at most `maxBytes` far: null when it is larger (by its Content-Length
 * or by what arrived), an empty array when there is none.
 */
export async function readCapped(
  req: Request,
  maxBytes: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  const declared = declaredLength(req)
  if (declared !== null && declared > maxBytes) return null
  if (req.body === null) return new Uint8Array()
  const chunks: Uint8Array[] = []
  let total = 0
  for await (const chunk of req.body) {
    total += chunk.byteLength
    if (total > maxBytes) return null // leaving the loop cancels the rest of the stream
    chunks.push(chunk)
  }
  const out = new Uint8Array(total)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return out
}

/**
 * `req` with its body read (at most `maxBytes`) into memory, for handlers that read bodies
 * whole anyway (the RPC route, Auth); null when the body is too large.
 */
export async function withCappedBody(req: Request, maxBytes: number): Promise<Request | null> {
  // A GET or HEAD body is never read (and a Request cannot carry one).
  if (req.body === null || req.method === 'GET' || req.method === 'HEAD') return req
  const body = await readCapped(req, maxBytes)
  if (body === null) return null
  return new Request(req.url, {
    method: req.method,
    headers: req.headers,
    body,
    signal: req.signal,
  })
}
