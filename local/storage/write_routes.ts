// Changing objects: move, copy and remove. Each runs its storage.objects statements as the
// caller in one transaction, together with the file changes (a Journal), so RLS decides as on
// Supabase — move needs select + update, copy select on the source and insert (upsert: insert +
// update + select) on the destination, remove select + delete — and a refusal changes nothing.
import { jsonResponse } from '../jwt.ts'
import { Fields, readJson } from './body.ts'
import type { RequestContext } from './context.ts'
import {
  deleteObjects,
  type FileMetadata,
  findObject,
  insertObject,
  lockObjects,
  type ObjectRow,
  renameObject,
  SERVICE,
  switchRole,
  type Tx,
  upsertObject,
} from './db.ts'
import { type Journal, mustBeValidKey, removeQuietly } from './disk.ts'
import { ERRORS, pgCode } from './errors.ts'
import { userMetadataHeader } from './upload.ts'

/** Storage's cap on one bulk delete. */
const MAX_OBJECTS_PER_REQUEST = 1000

interface Transfer {
  bucketId: string
  sourceKey: string
  destinationBucket: string
  destinationKey: string
}

function transferFields(body: Fields): Transfer {
  const bucketId = body.string('bucketId')
  const sourceKey = body.string('sourceKey')
  const destinationKey = body.string('destinationKey')
  const destinationBucket = body.string('destinationBucket', { optional: true }) || bucketId
  mustBeValidKey(destinationKey)
  return { bucketId, sourceKey, destinationBucket, destinationKey }
}

/** POST /object/move {bucketId, sourceKey, destinationKey, destinationBucket?}. */
export async function moveObject(ctx: RequestContext): Promise<Response> {
  const caller = await ctx.caller()
  const t = transferFields(new Fields(await readJson(ctx.req)))
  const from = { bucket: t.bucketId, name: t.sourceKey }
  const to = { bucket: t.destinationBucket, name: t.destinationKey }
  const moved = await ctx.write(caller, async (tx, files) => {
    if (!(await findObject(tx, from.bucket, from.name))) throw ERRORS.noSuchKey()
    const row = await renameObject(tx, from, {
      ...to,
      owner: caller.owner,
      version: crypto.randomUUID(),
    })
    if (!row) throw ERRORS.noSuchKey()
    if (from.bucket !== to.bucket || from.name !== to.name) await files.move(from, to)
    return row
  }, [`${from.bucket}/${from.name}`, `${to.bucket}/${to.name}`]).catch((err) => {
    throw pgCode(err) === '23505' ? ERRORS.resourceAlreadyExists() : err
  })
  return jsonResponse(200, { message: 'Successfully moved', Id: moved.id, Key: moved.name })
}

/**
 * POST /object/copy {bucketId, sourceKey, destinationKey, destinationBucket?, copyMetadata?,
 * metadata?}; `x-upsert: true` overwrites, `x-metadata` (base64 JSON) replaces the user
 * metadata when copyMetadata is false.
 */
export async function copyObject(ctx: RequestContext): Promise<Response> {
  const caller = await ctx.caller()
  const body = new Fields(await readJson(ctx.req))
  const t = transferFields(body)
  const copyMetadata = body.boolean('copyMetadata') ?? true
  const override = body.object('metadata')
  const fileOverride = {
    cacheControl: override?.string('cacheControl', { optional: true }),
    mimetype: override?.string('mimetype', { optional: true }),
  }
  const upsert = ctx.req.headers.get('x-upsert') === 'true'
  const xMetadata = ctx.req.headers.get('x-metadata')
  let scratch: string | undefined
  try {
    const copied = await ctx.write(caller, async (tx, files) => {
      const source = await findObject(tx, t.bucketId, t.sourceKey)
      if (!source) throw ERRORS.noSuchKey()
      const metadata = { ...source.metadata } as FileMetadata
      if (!copyMetadata) {
        if (fileOverride.cacheControl !== undefined) {
          metadata.cacheControl = fileOverride.cacheControl
        }
        if (fileOverride.mimetype !== undefined) metadata.mimetype = fileOverride.mimetype
      }
      metadata.lastModified = new Date().toISOString()
      scratch = await ctx.deps.disk.copyToScratch(t.bucketId, t.sourceKey)
      const row = {
        id: crypto.randomUUID(),
        bucket: t.destinationBucket,
        name: t.destinationKey,
        owner: caller.owner,
        version: crypto.randomUUID(),
        metadata,
        userMetadata: copyMetadata
          ? source.user_metadata ?? undefined
          : userMetadataHeader(xMetadata),
      }
      if (upsert) await upsertObject(tx, row)
      else await insertObject(tx, row)
      await files.place(scratch, t.destinationBucket, t.destinationKey)
      // The answer shows the new row whatever the caller's select policy says, as Storage's does.
      await switchRole(tx, SERVICE.role)
      return (await findObject(tx, t.destinationBucket, t.destinationKey))!
    }, [`${t.bucketId}/${t.sourceKey}`, `${t.destinationBucket}/${t.destinationKey}`]).catch(
      (err) => {
        throw pgCode(err) === '23505' ? ERRORS.keyAlreadyExists() : err
      },
    )
    return jsonResponse(200, {
      Id: copied.id,
      Key: `${t.destinationBucket}/${t.destinationKey}`,
      ...copied,
    })
  } finally {
    if (scratch) await removeQuietly(scratch)
  }
}

/** Deletes the named rows the role may delete, and their files; returns the deleted rows. */
export async function removeNames(
  tx: Tx,
  files: Journal,
  bucketId: string,
  names: string[],
): Promise<ObjectRow[]> {
  await lockObjects(tx, names.map((n) => `${bucketId}/${n}`))
  const deleted = await deleteObjects(tx, bucketId, names)
  for (const row of deleted) await files.remove(bucketId, row.name)
  return deleted
}

/**
 * DELETE /object/<bucket> {prefixes}: removes the named objects the caller may delete and
 * answers with their rows; names they may not see or delete are skipped, not errors.
 */
export async function removeObjects(ctx: RequestContext, bucketId: string): Promise<Response> {
  const caller = await ctx.caller()
  const prefixes = new Fields(await readJson(ctx.req)).strings('prefixes', { minItems: 1 })!
  if (prefixes.length > MAX_OBJECTS_PER_REQUEST) {
    throw ERRORS.invalidRequest(
      `Bulk object requests are limited to ${MAX_OBJECTS_PER_REQUEST} objects per request.`,
    )
  }
  const deleted = await ctx.write(caller, (tx, files) => removeNames(tx, files, bucketId, prefixes))
  return jsonResponse(200, deleted)
}

/** DELETE /object/<bucket>/<name>: one object; a row the caller may not delete is a 403. */
export async function removeObject(
  ctx: RequestContext,
  bucketId: string,
  name: string,
): Promise<Response> {
  const caller = await ctx.caller()
  mustBeValidKey(name)
  await ctx.write(caller, async (tx, files) => {
    await switchRole(tx, SERVICE.role)
    if (!(await findObject(tx, bucketId, name))) throw ERRORS.noSuchKey()
    await switchRole(tx, caller.role)
    const deleted = await removeNames(tx, files, bucketId, [name])
    if (deleted.length === 0) throw ERRORS.accessDenied('Access denied')
  })
  return jsonResponse(200, { message: 'Successfully deleted' })
}
