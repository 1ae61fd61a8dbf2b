// PostgREST's contract for `/rest/v1/rpc/<fn>`, enough for this project's RPCs: a `public`
// function called with named JSON arguments under the caller's role and JWT claims, through
// the `authenticator` login role exactly as PostgREST connects. Tables are not exposed here.
// Each call leaves an `rpc.<fn>` span in public.kernel_spans, off the response path, as the
// functions do.
import type postgres from 'postgres'
import {
  createSpanRecorder,
  requestSpan,
  type SpanRecorder,
  sqlSpanWriter,
} from '../supabase/functions/_shared/spans.ts'
import { bearerToken, type Claims, jsonResponse, verifyJwt } from './jwt.ts'

type Sql = postgres.Sql

const API_ROLES = new Set(['anon', 'authenticated', 'service_role'])

interface Candidate {
  oid: number
  in_names: string[]
  in_types: string[]
  nargs: number
  ndefaults: number
  retset: boolean
  ret_typtype: string
  ret_type: string
  volatility: string
  allowed: boolean
}

// Argument lists come back as jsonb, not text[]: postgres.js learns array type OIDs on its
// first connection, and a query on another pooled connection can race that and receive the raw
// '{…}' string instead of an array.
const CANDIDATES_SQL = `
  select p.oid::int as oid,
         to_jsonb(coalesce(array(
           select a.name from unnest(coalesce(p.proargnames, array[]::text[]),
                                     coalesce(p.proargmodes::text[], array[]::text[]))
                               with ordinality as a(name, mode, ord)
           where coalesce(a.mode, 'i') in ('i', 'b', 'v') order by a.ord), '{}')) as in_names,
         to_jsonb(array(select format_type(t, null) from unnest(p.proargtypes::oid[])
               with ordinality as x(t, ord) order by x.ord)) as in_types,
         p.pronargs::int as nargs, p.pronargdefaults::int as ndefaults, p.proretset as retset,
         t.typtype::text as ret_typtype, format_type(p.prorettype, null) as ret_type,
         p.provolatile::text as volatility,
         has_function_privilege($2::text, p.oid, 'execute') as allowed
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    join pg_catalog.pg_type t on t.oid = p.prorettype
   where n.nspname = 'public' and p.proname = $1::text and p.prokind = 'f'
   order by p.pronargs`

function quoteIdent(name: string): string {
  return '"' + name.replaceAll('"', '""') + '"'
}

/**
 * The named arguments as one row `a`, read out of the request body the way PostgREST reads them:
 * jsonb_to_record converts each JSON value to its parameter's type, so a value of the wrong JSON
 * type (an object for an array, an array for a uuid) fails the call with 22P02 or 22023, a 400,
 * instead of becoming a silent NULL. The body is bound once, as text, because postgres.js would
 * JSON-encode a string bound to a jsonb parameter a second time.
 */
function argumentsRow(names: string[], types: string[]): string {
  const columns = names.map((name, i) => `${quoteIdent(name)} ${types[i]}`).join(', ')
  return `pg_catalog.jsonb_to_record($1::text::jsonb) as a(${columns})`
}

function pickCandidate(cands: Candidate[], keys: string[]): Candidate | null {
  for (const c of cands) {
    const required = c.in_names.slice(0, c.nargs - c.ndefaults)
    if (c.in_names.length !== c.nargs) continue // unnamed arguments cannot be called by name
    if (keys.every((k) => c.in_names.includes(k)) && required.every((r) => keys.includes(r))) {
      return c
    }
  }
  return null
}

/** PostgREST's mapping of SQLSTATEs to HTTP statuses, for the codes our functions raise. */
export function statusForSqlState(code: string | undefined, role: string): number {
  if (!code) return 500
  const custom = /^PT(\d{3})$/.exec(code)
  if (custom) return Number(custom[1])
  if (code === '42501') return role === 'anon' ? 401 : 403
  if (code === '42883' || code === 'P0002') return 404
  if (code === '23503' || code === '23505') return 409
  if (code === '25006') return 405
  if (code === 'P0001' || code.startsWith('22') || code === '23502' || code === '23514') {
    return 400
  }
  if (code.startsWith('08') || code.startsWith('53')) return 503
  return 500
}

export interface RpcOptions {
  /** Connection as the `authenticator` role. */
  sql: Sql
  jwtSecret: string
  /**
   * Where the `rpc.<fn>` spans go. Default: one recorder per connection writing through it as
   * service_role (authenticator may become it, as PostgREST does), since ops.record_spans is
   * not for API roles.
   */
  spans?: SpanRecorder
}

const defaultRecorders = new WeakMap<Sql, SpanRecorder>()

function spansFor(opts: RpcOptions): SpanRecorder {
  if (opts.spans !== undefined) return opts.spans
  let recorder = defaultRecorders.get(opts.sql)
  if (recorder === undefined) {
    recorder = createSpanRecorder({ write: sqlSpanWriter(opts.sql, { role: 'service_role' }) })
    defaultRecorders.set(opts.sql, recorder)
  }
  return recorder
}

// Postgres truncates identifiers past 63 bytes, so a longer name can be no function of ours;
// its span would only add a junk path.
const MAX_FUNCTION_NAME = 63

/** Answers one RPC and records its span (`rpc.<fn>`, status, duration) in the background. */
export async function handleRpc(req: Request, fnName: string, opts: RpcOptions) {
  const startedAt = Date.now()
  const start = performance.now()
  const res = await callRpc(req, fnName, opts)
  if (fnName.length <= MAX_FUNCTION_NAME) {
    spansFor(opts).record(requestSpan({
      path: `rpc.${fnName}`,
      function: fnName,
      route: `/rest/v1/rpc/${fnName}`,
      status: res.status,
      durationMs: performance.now() - start,
      startedAt,
    }))
  }
  return res
}

async function callRpc(req: Request, fnName: string, opts: RpcOptions): Promise<Response> {
  // Supabase's API gateway demands an apikey on every request, then PostgREST takes the role
  // from the bearer token when there is one (a user's session), else from the apikey.
  const apikey = req.headers.get('apikey') ?? new URL(req.url).searchParams.get('apikey')
  if (!apikey) {
    return jsonResponse(401, { code: 'PGRST301', message: 'No API key found in request' })
  }
  if (!(await verifyJwt(apikey, opts.jwtSecret))) {
    return jsonResponse(401, { code: 'PGRST301', message: 'Invalid API key' })
  }
  const token = bearerToken(req) ?? apikey
  const claims: Claims | null = await verifyJwt(token, opts.jwtSecret)
  const role = typeof claims?.role === 'string' ? claims.role : ''
  if (!claims || !API_ROLES.has(role)) {
    return jsonResponse(401, { code: 'PGRST301', message: 'JWT invalid or role not allowed' })
  }

  let args: Record<string, unknown>
  if (req.method === 'GET') {
    const params = new URL(req.url).searchParams
    params.delete('apikey')
    args = Object.fromEntries(params)
  } else if (req.method === 'POST') {
    const text = await req.text()
    try {
      args = text.trim() === '' ? {} : JSON.parse(text)
    } catch {
      return jsonResponse(400, { code: 'PGRST102', message: 'Request body is not valid JSON' })
    }
    if (args === null || typeof args !== 'object' || Array.isArray(args)) {
      return jsonResponse(400, {
        code: 'PGRST102',
        message: 'Request body must be a JSON object of named arguments',
      })
    }
  } else {
    return jsonResponse(
      405,
      { code: 'PGRST117', message: `Unsupported method ${req.method}` },
      { allow: 'GET, POST' },
    )
  }

  const keys = Object.keys(args)
  let cands: Candidate[]
  try {
    cands = await opts.sql.unsafe<Candidate[]>(CANDIDATES_SQL, [fnName, role])
  } catch (err) {
    return databaseError(err, role)
  }
  const cand = pickCandidate(cands.filter((c) => c.allowed), keys)
  if (!cand) {
    // Like PostgREST's schema cache, a function the role may not execute is simply not there.
    return jsonResponse(404, {
      code: 'PGRST202',
      message: `Could not find the function public.${fnName}(${keys.sort().join(', ')})`,
      details: null,
      hint: null,
    })
  }
  if (req.method === 'GET' && cand.volatility === 'v') {
    return jsonResponse(405, {
      code: 'PGRST101',
      message: 'Volatile functions must be called with POST',
    })
  }

  const callArgs = keys.map((k) => `${quoteIdent(k)} => a.${quoteIdent(k)}`).join(', ')
  const call = `public.${quoteIdent(fnName)}(${callArgs})`
  const row = keys.length
    ? argumentsRow(keys, keys.map((k) => cand.in_types[cand.in_names.indexOf(k)]))
    : null
  const tabular = cand.retset || cand.ret_typtype === 'c' || cand.ret_type === 'record'
  const statement = tabular
    ? `select coalesce(jsonb_agg(to_jsonb(r)), '[]'::jsonb) as result
         from ${row ? `${row} cross join lateral ` : ''}${call} r`
    : `select to_jsonb(${call}) as result${row ? ` from ${row}` : ''}`

  try {
    const rows = await opts.sql.begin(async (tx) => {
      if (req.method === 'GET') await tx.unsafe('set transaction read only')
      await tx.unsafe(
        // PostgREST applies the role's own settings too (Supabase gives anon a 3 s and
        // authenticated an 8 s statement_timeout); SET ROLE alone would not.
        `select set_config('role', $1::text, true),
                set_config('request.jwt.claims', $2::text, true),
                set_config('request.method', $3::text, true),
                set_config('statement_timeout', coalesce(
                  (select substr(c, length('statement_timeout=') + 1)
                     from pg_catalog.pg_roles r, unnest(r.rolconfig) c
                    where r.rolname = $1::text and c like 'statement_timeout=%'),
                  current_setting('statement_timeout')), true)`,
        [role, JSON.stringify(claims), req.method],
      )
      // Postgres cannot type a parameter the statement never uses, so bind one only when needed.
      return await tx.unsafe(statement, keys.length ? [JSON.stringify(args)] : [])
    })
    if (cand.ret_type === 'void') return new Response(null, { status: 204 })
    let result = rows[0]?.result ?? null
    if (tabular && !cand.retset) result = Array.isArray(result) ? result[0] ?? null : result
    return jsonResponse(200, result)
  } catch (err) {
    return databaseError(err, role)
  }
}

function databaseError(err: unknown, role: string): Response {
  const e = err as { code?: string; message?: string; detail?: string; hint?: string }
  if (!e.code || !/^[0-9A-Z]{5}$/.test(e.code)) {
    // Not an SQL error: the database is unreachable or the connection broke.
    return jsonResponse(503, {
      code: 'PGRST000',
      message: 'Database connection error',
      details: null,
      hint: null,
    })
  }
  return jsonResponse(statusForSqlState(e.code, role), {
    code: e.code,
    message: e.message ?? 'error',
    details: e.detail ?? null,
    hint: e.hint ?? null,
  })
}
