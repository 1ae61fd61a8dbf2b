// Shared pieces of `deno task bench`: a figure type that carries its own target, timing
// helpers, and the stack a bench runs against.
import type postgres from 'postgres'

export interface Figure {
  name: string
  /** The median over the bench's repetitions. */
  value: number
  unit: string
  target: string
  ok: boolean
  note?: string
}

export interface BenchContext {
  apiUrl: string
  dbUrl: string
  dbPort: number
  anonKey: string
  serviceRoleKey: string
  /** Superuser connection for arranging data. */
  sql: postgres.Sql
  log: (line: string) => void
}

export interface Bench {
  name: string
  run(ctx: BenchContext): Promise<Figure[]>
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[idx]
}

export function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50)
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits
  return Math.round(n * f) / f
}
