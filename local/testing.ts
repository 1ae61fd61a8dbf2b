// What Deno integration tests need from the running test stack. `deno task test` sets these
// variables; running `deno test` by hand needs a stack from `deno task dev` and the same env.
import postgres from 'postgres'
import { SignJWT } from 'jose'

export interface TestStackEnv {
  apiUrl: string
  dbUrl: string
  anonKey: string
  serviceRoleKey: string
  jwtSecret: string
}

export function testStackEnv(): TestStackEnv {
  const read = (name: string) => {
    const value = Deno.env.get(name)
    if (!value) throw new Error(`${name} is not set: run the tests with \`deno task test\``)
    return value
  }
  return {
    apiUrl: read('SUPABASE_URL'),
    dbUrl: read('SUPABASE_DB_URL'),
    anonKey: read('SUPABASE_ANON_KEY'),
    serviceRoleKey: read('SUPABASE_SERVICE_ROLE_KEY'),
    jwtSecret: read('JWT_SECRET'),
  }
}

/** A superuser connection for arranging and inspecting state (never used by code under test). */
export function adminSql(env = testStackEnv(), max = 2) {
  return postgres(env.dbUrl, { prepare: false, max, onnotice: () => {} })
}

/** Polls until `check` returns a value or the time runs out (for asynchronous effects). */
export async function eventually<T>(
  check: () => Promise<T | null | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== null && value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Runs `script` through psql (`-X`, stopping at the first error) and returns its output. */
export async function psql(script: string, env = testStackEnv()): Promise<string> {
  const file = await Deno.makeTempFile({ suffix: '.sql' })
  try {
    await Deno.writeTextFile(file, script)
    const out = await new Deno.Command('psql', {
      args: [env.dbUrl, '-X', '-v', 'ON_ERROR_STOP=1', '-f', file],
      stdout: 'piped',
      stderr: 'piped',
    }).output()
    if (out.code !== 0) {
      throw new Error(`psql exited with ${out.code}: ${new TextDecoder().decode(out.stderr)}`)
    }
    return new TextDecoder().decode(out.stdout)
  } finally {
    await Deno.remove(file)
  }
}

/** A token signed with the stack's JWT secret, as Auth would issue it (5 minutes). */
export function signTestJwt(claims: Record<string, unknown>, env = testStackEnv()) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(env.jwtSecret))
}

/** A signed-in user's access token for `sub`. */
export const userTestJwt = (sub: string, env = testStackEnv()) =>
  signTestJwt({ role: 'authenticated', sub, aud: 'authenticated' }, env)

/**
 * Runs cron job `jobName`'s command as pg_cron would (a net.http_post to a function), waits for
 * pg_net's response row and returns the parsed answer; throws unless it was a 200.
 */
export async function runCronJob(
  sql: postgres.Sql,
  jobName: string,
): Promise<ReturnType<typeof JSON.parse>> {
  const [job] = await sql<{ command: string }[]>`
    select command from cron.job where jobname = ${jobName}`
  if (!job) throw new Error(`cron job ${jobName} does not exist`)
  const [{ request_id }] = await sql.unsafe<{ request_id: string }[]>(job.command)
  const response = await eventually(
    async () =>
      (await sql<{ status_code: number | null; content: string | null; timed_out: boolean }[]>`
      select status_code, content, timed_out from net._http_response where id = ${request_id}`)[0],
    30_000,
  )
  if (response.timed_out) throw new Error(`${jobName} timed out`)
  if (response.status_code !== 200) {
    throw new Error(`${jobName}: ${response.status_code} ${response.content}`)
  }
  return JSON.parse(response.content!)
}
