// What a Storage route works with: its dependencies and the request, plus the two ways it
// touches the database — a scoped transaction, or one that also changes files on disk.
import { type Caller, resolveCaller } from './caller.ts'
import { inScope, type RequestInfo, SERVICE, type Sql, type Tx } from './db.ts'
import type { Disk, Journal } from './disk.ts'

export interface StorageDeps {
  /** A connection as supabase_storage_admin. */
  sql: Sql
  jwtSecret: string
  disk: Disk
  /** `[storage] file_size_limit`: the cap on every upload, whatever the bucket allows. */
  fileSizeLimit: number
}

export class RequestContext {
  readonly info: RequestInfo

  constructor(readonly req: Request, readonly deps: StorageDeps, path: string) {
    this.info = { method: req.method, path }
  }

  /** The verified caller; `allowInvalid` turns a bad or missing token into anon. */
  caller(opts: { allowInvalid?: boolean } = {}): Promise<Caller> {
    return resolveCaller(this.req, this.deps.jwtSecret, opts)
  }

  /**
   * One transaction as `caller`. Storage's own lookups (SERVICE) need neither a role nor
   * claims: its connection role owns the tables, which bypasses RLS as service_role does, so
   * they run as one statement with no transaction around it.
   */
  run<T>(caller: Caller, fn: (tx: Tx) => Promise<T>): Promise<T> {
    if (caller === SERVICE) {
      // Only tagged-template queries and helpers reach `tx`; a pool answers those the same.
      return fn(this.deps.sql as unknown as Tx)
    }
    return inScope(this.deps.sql, caller, this.info, fn)
  }

  /**
   * One transaction as `caller`, holding the `lock`ed object keys, that also changes files:
   * the file steps are undone when anything fails (the commit included) and finished once the
   * rows are committed.
   */
  async write<T>(
    caller: Caller,
    fn: (tx: Tx, files: Journal) => Promise<T>,
    lock: string[] = [],
  ): Promise<T> {
    const files = this.deps.disk.journal()
    let result: T
    try {
      result = await inScope(this.deps.sql, caller, this.info, (tx) => fn(tx, files), lock)
    } catch (err) {
      await files.undo()
      throw err
    }
    await files.finish()
    return result
  }
}
