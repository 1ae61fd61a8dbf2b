// Function secrets for the dev stack, read from supabase/functions/.env as `supabase functions
// serve` does (the file `supabase secrets set --env-file` takes): how a developer turns on
// ENABLE_LEGACY_MIGRATION, usage metrics or a function's own settings locally.

/** The platform's own variables: Supabase refuses secrets named SUPABASE_*, and so do we. */
const RESERVED = /^SUPABASE_/

/**
 * Parses dotenv text: `KEY=value` lines, `#` comments, blank lines, an optional `export `, and
 * values in single or double quotes (double quotes understand \n, \" and \\). Throws naming the
 * line for anything else, and for reserved names, so a typo is not silently dropped.
 */
export function parseDotenv(text: string, source = '.env'): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) continue
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line)
    if (!match) throw new Error(`${source}:${i + 1}: expected KEY=value`)
    const [, key, rest] = match
    if (RESERVED.test(key)) {
      throw new Error(`${source}:${i + 1}: ${key}: names starting with SUPABASE_ are reserved`)
    }
    out[key] = unquote(rest, `${source}:${i + 1}`)
  }
  return out
}

function unquote(value: string, where: string): string {
  const quote = value[0]
  if (quote !== '"' && quote !== "'") return value.replace(/\s+#.*$/, '')
  const end = value.lastIndexOf(quote)
  if (end === 0) throw new Error(`${where}: unterminated ${quote}`)
  const inner = value.slice(1, end)
  if (quote === "'") return inner
  return inner.replace(/\\([n"\\])/g, (_, c: string) => c === 'n' ? '\n' : c)
}

/** Reads `path` if it exists; no file means no secrets. */
export async function loadFunctionSecrets(path: string): Promise<Record<string, string>> {
  let text: string
  try {
    text = await Deno.readTextFile(path)
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return {}
    throw err
  }
  return parseDotenv(text, path)
}
