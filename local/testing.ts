// What Deno integration tests need from the running test stack. `deno task test` sets these
// variables; running `deno test` by hand needs a stack from `deno task dev` and the same env.
import postgres from 'postgres'

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
