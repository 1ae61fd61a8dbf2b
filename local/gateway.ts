// The API gateway on :54321, standing in for Supabase's: `/functions/v1/<name>/…` with
// verify_jwt enforced per config.toml, `/rest/v1/rpc/<fn>` (PostgREST's RPC contract),
// `/auth/v1/…` (local/auth), `/storage/v1/…` (local/storage), and JSON 404s for everything
// else. Function code runs in its own process (functions.ts).
import {
  type BodyLimits,
  capStream,
  declaredLength,
  DEFAULT_BODY_LIMITS,
  withCappedBody,
} from './body_limit.ts'
import type { FunctionConfig } from './config.ts'
import { truncateEcho } from '../supabase/functions/_shared/errors.ts'
import { bearerToken, jsonResponse, verifyJwt } from './jwt.ts'
import { handleRpc, type RpcOptions } from './rest_rpc.ts'

export interface GatewayRoutes {
  functions: Map<string, FunctionConfig>
  /** Port of each running function process; a function with no process is not deployed. */
  functionPorts: Map<string, number>
  jwtSecret: string
  rpc: RpcOptions
  /** Auth at /auth/v1 (local/auth); without it /auth/v1 is Kong's 404, as with no Auth running. */
  auth?: (req: Request) => Promise<Response>
  /** Storage at /storage/v1 (local/storage); without it the same 404. */
  storage?: (req: Request) => Promise<Response>
  /** Request body caps; DEFAULT_BODY_LIMITS where unset. Storage applies its own limits. */
  limits?: Partial<BodyLimits>
}

// Hop-by-hop headers must not be forwarded by a proxy (RFC 9110 §7.6.1).
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']

// What Supabase's gateway (Kong) answers on the path of a service `supabase start` did not run.
const noService = () =>
  Promise.resolve(jsonResponse(404, { message: 'no Route matched with those values' }))

function errorBody(code: string, message: string) {
  return { error: { code, message } }
}

// Methods fetch() refuses to send (the Fetch standard forbids them, against cross-site
// tracing), so nothing behind the gateway can be reached with them; refused here, as nginx
// refuses TRACE, rather than failing inside the proxy as a 5xx.
const UNFORWARDABLE_METHODS = new Set(['CONNECT', 'TRACE', 'TRACK'])
// What the gateway does forward; each function answers a wrong one with its own exact Allow.
const FORWARDED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS'

const tooLarge = (maxBytes: number) =>
  jsonResponse(413, errorBody('payload_too_large', `Request body exceeds ${maxBytes} bytes`))
// In front of PostgREST and Auth it is Kong's request-size-limiting plugin that answers, in
// Kong's shape (the one supabase-js reads `message` from).
const kongTooLarge = (maxBytes: number) =>
  jsonResponse(413, { message: `Request size limit exceeded: the body exceeds ${maxBytes} bytes` })

// Bodies up to this size are read before they are forwarded, so the request can be sent again
// when a reloading function refused the connection; larger ones are streamed through, counted
// on the way, and sent once.
const RESENDABLE_BODY_BYTES = 1024 * 1024

async function proxyToFunction(
  req: Request,
  port: number,
  path: string,
  maxBytes: number,
): Promise<Response> {
  const url = new URL(req.url)
  const target = `http://127.0.0.1:${port}${path}${url.search}`
  const headers = new Headers(req.headers)
  for (const h of HOP_BY_HOP) headers.delete(h)
  const declared = declaredLength(req)
  if (declared !== null && declared > maxBytes) return tooLarge(maxBytes)
  let body: ArrayBuffer | ReadableStream<Uint8Array> | undefined
  let exceeded = () => false
  if (req.body !== null && req.method !== 'GET' && req.method !== 'HEAD') {
    if (declared !== null && declared <= RESENDABLE_BODY_BYTES) body = await req.arrayBuffer()
    else ({ stream: body, exceeded } = capStream(req.body, maxBytes))
  }
  // A function reloading after a file change refuses connections for a moment; retry briefly
  // rather than fail the request, as the edge runtime queues requests while a worker boots.
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      const res = await fetch(target, {
        method: req.method,
        headers,
        body,
        redirect: 'manual',
        // A caller that goes away aborts the function's request too (its request signal
        // fires), so the function can stop what it was doing for no one.
        signal: req.signal,
        duplex: 'half',
      } as RequestInit)
      const out = new Headers(res.headers)
      out.delete('content-encoding')
      out.delete('content-length')
      return new Response(res.body, { status: res.status, headers: out })
    } catch (err) {
      if (exceeded()) return tooLarge(maxBytes)
      // Only a refused connection is safe to retry: the function never saw the request.
      // Anything else may have run it, and sending a POST twice could repeat its effects.
      // A streamed body cannot be sent twice.
      const refused = /refused|ECONNREFUSED/i.test((err as Error).message)
      if (!refused || body instanceof ReadableStream || Date.now() > deadline) {
        return jsonResponse(
          502,
          errorBody('function_unavailable', `function did not answer: ${(err as Error).message}`),
        )
      }
      await new Promise((r) => setTimeout(r, 100))
    }
  }
}

export function createGatewayHandler(routes: GatewayRoutes) {
  const auth = routes.auth ?? noService
  const storage = routes.storage ?? noService
  const limits = { ...DEFAULT_BODY_LIMITS, ...routes.limits }
  /** `handler` with `req`'s body read up to the API cap, or a 413. */
  const capped = async (req: Request, handler: (req: Request) => Promise<Response>) => {
    const within = await withCappedBody(req, limits.apiBytes)
    return within === null ? kongTooLarge(limits.apiBytes) : handler(within)
  }
  return async function gateway(req: Request): Promise<Response> {
    const url = new URL(req.url)
    if (UNFORWARDABLE_METHODS.has(req.method.toUpperCase())) {
      return jsonResponse(
        405,
        errorBody('method_not_allowed', `${req.method} is not allowed`),
        { allow: FORWARDED_METHODS },
      )
    }
    if (/^\/auth\/v1(\/|$)/.test(url.pathname)) return capped(req, auth)
    // Storage is not capped here: it has its own global and per-bucket upload limits.
    if (/^\/storage\/v1(\/|$)/.test(url.pathname)) return storage(req)
    const fnMatch = /^\/functions\/v1\/([^/]+)(\/.*)?$/.exec(url.pathname)
    if (fnMatch) {
      let name: string
      try {
        name = decodeURIComponent(fnMatch[1])
      } catch {
        return jsonResponse(404, errorBody('function_not_found', 'Function not found'))
      }
      const fn = routes.functions.get(name)
      const port = routes.functionPorts.get(name)
      if (!fn || port === undefined) {
        return jsonResponse(
          404,
          errorBody('function_not_found', `Function not found: ${truncateEcho(name)}`),
        )
      }
      if (fn.verifyJwt) {
        const token = bearerToken(req)
        if (!token) {
          return jsonResponse(401, errorBody('unauthorized', 'Missing authorization header'))
        }
        if (!(await verifyJwt(token, routes.jwtSecret))) {
          return jsonResponse(401, errorBody('unauthorized', 'Invalid JWT'))
        }
      }
      // Supabase hands the function the path without the /functions/v1 prefix.
      return proxyToFunction(
        req,
        port,
        `/${fnMatch[1]}${fnMatch[2] ?? ''}`,
        limits.functionBytes,
      )
    }
    const rpcMatch = /^\/rest\/v1\/rpc\/([A-Za-z_][A-Za-z0-9_]*)\/?$/.exec(url.pathname)
    if (rpcMatch) return capped(req, (within) => handleRpc(within, rpcMatch[1], routes.rpc))
    return jsonResponse(404, errorBody('not_found', `No route for ${truncateEcho(url.pathname)}`))
  }
}
