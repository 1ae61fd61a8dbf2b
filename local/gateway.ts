// The API gateway on :54321, standing in for Supabase's: `/functions/v1/<name>/…` with
// verify_jwt enforced per config.toml, `/rest/v1/rpc/<fn>` (PostgREST's RPC contract), and
// JSON 404s for everything else. Function code runs in its own process (functions.ts).
import type { FunctionConfig } from './config.ts'
import { bearerToken, jsonResponse, verifyJwt } from './jwt.ts'
import { handleRpc, type RpcOptions } from './rest_rpc.ts'

export interface GatewayRoutes {
  functions: Map<string, FunctionConfig>
  /** Port of each running function process; a function with no process is not deployed. */
  functionPorts: Map<string, number>
  jwtSecret: string
  rpc: RpcOptions
}

// Hop-by-hop headers must not be forwarded by a proxy (RFC 9110 §7.6.1).
const HOP_BY_HOP = ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host']

function errorBody(code: string, message: string) {
  return { error: { code, message } }
}

async function proxyToFunction(req: Request, port: number, path: string): Promise<Response> {
  const url = new URL(req.url)
  const target = `http://127.0.0.1:${port}${path}${url.search}`
  const headers = new Headers(req.headers)
  for (const h of HOP_BY_HOP) headers.delete(h)
  const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer()
  // A function reloading after a file change refuses connections for a moment; retry briefly
  // rather than fail the request, as the edge runtime queues requests while a worker boots.
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      const res = await fetch(target, { method: req.method, headers, body, redirect: 'manual' })
      const out = new Headers(res.headers)
      out.delete('content-encoding')
      out.delete('content-length')
      return new Response(res.body, { status: res.status, headers: out })
    } catch (err) {
      // Only a refused connection is safe to retry: the function never saw the request.
      // Anything else may have run it, and sending a POST twice could repeat its effects.
      const refused = /refused|ECONNREFUSED/i.test((err as Error).message)
      if (!refused || Date.now() > deadline) {
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
  return async function gateway(req: Request): Promise<Response> {
    const url = new URL(req.url)
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
        return jsonResponse(404, errorBody('function_not_found', `Function not found: ${name}`))
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
      return proxyToFunction(req, port, `/${fnMatch[1]}${fnMatch[2] ?? ''}`)
    }
    const rpcMatch = /^\/rest\/v1\/rpc\/([A-Za-z_][A-Za-z0-9_]*)\/?$/.exec(url.pathname)
    if (rpcMatch) return handleRpc(req, rpcMatch[1], routes.rpc)
    return jsonResponse(404, errorBody('not_found', `No route for ${url.pathname}`))
  }
}
