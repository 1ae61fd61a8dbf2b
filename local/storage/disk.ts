// Object files on local disk: `<root>/<bucket>/<name>`, one file per object (no versions kept).
// Writes never touch a live file until its row is written: bodies land in a scratch folder
// beside the root, and a Journal applies renames inside the row's transaction, then either
// finishes them after the commit or undoes them when anything fails, so the files and
// storage.objects agree after every request, failed ones included.
import { createHash } from 'node:crypto'
import { dirname } from 'node:path'
import { ERRORS } from './errors.ts'

/** Characters Storage accepts in object keys (S3's safe set plus a few it handles). */
const VALID_OBJECT_KEY = /^[A-Za-z0-9_/!.*'() &$=@;:+,?-]*$/
const VALID_BUCKET_NAME = /^[A-Za-z0-9_!.*'() &$=@;:+,?-]*$/

/** Storage's key rule, plus what a file path needs: no empty, `.` or `..` segment. */
export function mustBeValidKey(key: string): void {
  const segments = key.split('/')
  if (
    key === '' || !VALID_OBJECT_KEY.test(key) ||
    segments.some((s) => s === '' || s === '.' || s === '..')
  ) {
    throw ERRORS.invalidKey(key)
  }
}

export function mustBeValidBucketName(name: string): void {
  if (
    name === '' || name.length > 100 || name.trim() !== name || !VALID_BUCKET_NAME.test(name) ||
    name === '.' || name === '..'
  ) {
    throw ERRORS.invalidBucketName()
  }
}

export interface WrittenFile {
  path: string
  size: number
  /** Quoted MD5 hex of the bytes, as Storage's ETag. */
  eTag: string
}

export class Disk {
  /** `scratch` must be on the same filesystem as `root`, so renames between them are atomic. */
  constructor(readonly root: string, readonly scratch: string) {}

  bucketPath(bucket: string): string {
    mustBeValidBucketName(bucket)
    return `${this.root}/${bucket}`
  }

  objectPath(bucket: string, name: string): string {
    mustBeValidKey(name)
    return `${this.bucketPath(bucket)}/${name}`
  }

  async scratchPath(): Promise<string> {
    await Deno.mkdir(this.scratch, { recursive: true })
    return `${this.scratch}/${crypto.randomUUID()}`
  }

  /** Streams a body into a scratch file; more than `limit` bytes removes it and throws 413. */
  async writeScratch(body: ReadableStream<Uint8Array> | null, limit: number): Promise<WrittenFile> {
    const path = await this.scratchPath()
    const file = await Deno.open(path, { write: true, createNew: true })
    const md5 = createHash('md5')
    let size = 0
    try {
      for await (const chunk of body ?? []) {
        size += chunk.byteLength
        if (size > limit) throw ERRORS.entityTooLarge()
        md5.update(chunk)
        for (let done = 0; done < chunk.byteLength;) {
          done += await file.write(chunk.subarray(done))
        }
      }
    } catch (err) {
      file.close()
      await removeQuietly(path)
      throw err
    }
    file.close()
    return { path, size, eTag: `"${md5.digest('hex')}"` }
  }

  /** A scratch copy of an object's file (the source of a copy). */
  async copyToScratch(bucket: string, name: string): Promise<string> {
    const path = await this.scratchPath()
    try {
      await Deno.copyFile(this.objectPath(bucket, name), path)
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) throw ERRORS.missingFile()
      throw err
    }
    return path
  }

  /** The object's file and its size, or a 404 when the row outlived its file. */
  async open(bucket: string, name: string): Promise<{ file: Deno.FsFile; size: number }> {
    try {
      const file = await Deno.open(this.objectPath(bucket, name), { read: true })
      return { file, size: (await file.stat()).size }
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
        throw ERRORS.missingFile()
      }
      throw err
    }
  }

  journal(): Journal {
    return new Journal(this)
  }

  /** Removes empty folders from `dir` up to (not including) the bucket's own folder. */
  async pruneEmptyFolders(dir: string): Promise<void> {
    while (dir.startsWith(`${this.root}/`) && dirname(dir) !== this.root) {
      try {
        await Deno.remove(dir) // refuses a folder that is not empty
      } catch {
        return
      }
      dir = dirname(dir)
    }
  }
}

interface Step {
  undo(): Promise<void>
  finish(): Promise<void>
}

/**
 * File changes made inside a database transaction: `undo` (newest first) when the transaction
 * fails, `finish` after it commits. Only the transaction's own lock holder touches these paths.
 */
export class Journal {
  private readonly steps: Step[] = []
  constructor(private readonly disk: Disk) {}

  /** Puts a scratch file at the object's path, keeping whatever was there until the commit. */
  async place(scratchFile: string, bucket: string, name: string): Promise<void> {
    const target = this.disk.objectPath(bucket, name)
    const backup = await this.setAside(target)
    await renameInto(scratchFile, target)
    this.steps.push({
      undo: async () => {
        await removeQuietly(target)
        if (backup) await renameInto(backup, target)
        else await this.disk.pruneEmptyFolders(dirname(target))
      },
      finish: async () => {
        if (backup) await removeQuietly(backup)
      },
    })
  }

  /** Takes an object's file away (to scratch), deleted for good after the commit. */
  async remove(bucket: string, name: string): Promise<void> {
    const target = this.disk.objectPath(bucket, name)
    const trash = await this.setAside(target)
    if (!trash) return
    this.steps.push({
      undo: () => renameInto(trash, target),
      finish: async () => {
        await removeQuietly(trash)
        await this.disk.pruneEmptyFolders(dirname(target))
      },
    })
  }

  /** Moves an object's file to a new name (a row renamed in the same transaction). */
  async move(
    from: { bucket: string; name: string },
    to: { bucket: string; name: string },
  ): Promise<void> {
    const source = this.disk.objectPath(from.bucket, from.name)
    const target = this.disk.objectPath(to.bucket, to.name)
    const backup = await this.setAside(target)
    try {
      await renameInto(source, target)
    } catch (err) {
      if (backup) await renameInto(backup, target)
      if (err instanceof Deno.errors.NotFound) throw ERRORS.missingFile()
      throw err
    }
    this.steps.push({
      undo: async () => {
        await renameInto(target, source)
        if (backup) await renameInto(backup, target)
        else await this.disk.pruneEmptyFolders(dirname(target))
      },
      finish: async () => {
        if (backup) await removeQuietly(backup)
        await this.disk.pruneEmptyFolders(dirname(source))
      },
    })
  }

  async undo(): Promise<void> {
    for (const step of this.steps.reverse()) {
      await step.undo().catch((err) => console.error('storage: could not undo a file step', err))
    }
  }

  async finish(): Promise<void> {
    for (const step of this.steps) {
      await step.finish().catch((err) => console.error('storage: could not finish a file', err))
    }
  }

  /** Renames an existing file to scratch and returns where it went; null when there is none. */
  private async setAside(path: string): Promise<string | null> {
    try {
      if (!(await Deno.lstat(path)).isFile) throw ERRORS.pathConflict()
    } catch (err) {
      if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
        return null
      }
      throw err
    }
    const aside = await this.disk.scratchPath()
    await Deno.rename(path, aside)
    return aside
  }
}

/** Renames into place, creating parent folders (again, if a prune removed them meanwhile). */
async function renameInto(from: string, to: string): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      await Deno.mkdir(dirname(to), { recursive: true })
    } catch (err) {
      // A file already holds a folder name on the way: S3 allows that, one disk cannot.
      if (err instanceof Deno.errors.AlreadyExists || err instanceof Deno.errors.NotADirectory) {
        throw ERRORS.pathConflict()
      }
      throw err
    }
    try {
      return await Deno.rename(from, to)
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound) || attempt >= 2) throw err
      // The parent may have been pruned between mkdir and rename; a missing source stays missing.
      try {
        await Deno.stat(from)
      } catch {
        throw err
      }
    }
  }
}

export async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path)
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err
  }
}
