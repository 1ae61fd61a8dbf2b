// A gateway in front of one stub function, for tests of what the gateway itself does
// (verify_jwt, body caps, methods, aborts) apart from any real function.
import type { BodyLimits } from './body_limit.ts'
import type { FunctionConfig } from './config.ts'
import { createGatewayHandler } from './gateway.ts'

export interface StubGatewayOptions {
  verifyJwt: boolean
  jwtSecret: string
  limits?: Partial<BodyLimits>
  /** The stub function; default answers {"ok": true}. */
  upstream?: (req: Request) => Response | Promise<Response>
}

/** Runs `fn` with the gateway's base URL and the paths the stub function was called with. */
export async function withStubGateway(
  options: StubGatewayOptions,
  fn: (base: string, seen: string[]) => Promise<void>,
) {
  const seen: string[] = []
  const answer = options.upstream ?? (() => Response.json({ ok: true }))
  const upstream = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, (req) => {
    seen.push(new URL(req.url).pathname)
    return answer(req)
  })
  const functions = new Map<string, FunctionConfig>([
    ['stub', { name: 'stub', verifyJwt: options.verifyJwt, entrypoint: '/dev/null' }],
  ])
  const gateway = Deno.serve(
    { hostname: '127.0.0.1', port: 0, onListen: () => {} },
    createGatewayHandler({
      functions,
      functionPorts: new Map([['stub', upstream.addr.port]]),
      jwtSecret: options.jwtSecret,
      rpc: { sql: null as never, jwtSecret: options.jwtSecret },
      limits: options.limits,
    }),
  )
  try {
    await fn(`http://127.0.0.1:${gateway.addr.port}`, seen)
  } finally {
    await gateway.shutdown()
    await upstream.shutdown()
  }
}
