// Supabase Storage's error contract. The body is `{statusCode, code, error, message}`, where
// statusCode is the error's own status as a string; the HTTP status is 400 for every error but a
// 500 (Storage's long-standing "user status code"), except where Storage sets one (403 for a
// wrong role). supabase-js's StorageApiError carries both: `status` (HTTP) and `statusCode`.
import { jsonResponse } from '../jwt.ts'

export class StorageError extends Error {
  constructor(
    /** The error's own status, rendered as `statusCode`. */
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** The legacy `error` field; defaults to the code. */
    readonly error: string = code,
    /** The HTTP status when Storage sets one; otherwise 400 (500 for a 500). */
    readonly httpStatus?: number,
  ) {
    super(message)
  }
}

/** Storage's named errors, with its codes, statuses and messages. */
export const ERRORS = {
  noSuchBucket: () => new StorageError(404, 'NoSuchBucket', 'Bucket not found', 'Bucket not found'),
  noSuchKey: () => new StorageError(404, 'NoSuchKey', 'Object not found', 'not_found'),
  /** An object whose row exists but whose file does not (the renderer's 404). */
  missingFile: () => new StorageError(404, 'NoSuchKey', 'The resource was not found', 'Not found'),
  invalidKey: (key: string) => new StorageError(400, 'InvalidKey', `Invalid key: ${key}`),
  invalidBucketName: () =>
    new StorageError(400, 'InvalidBucketName', 'Bucket name invalid', 'Invalid Input'),
  invalidJwt: (message: string) => new StorageError(400, 'InvalidJWT', message),
  invalidSignature: (message = 'Invalid signature') =>
    new StorageError(400, 'InvalidSignature', message),
  accessDenied: (message: string, httpStatus?: number) =>
    new StorageError(403, 'AccessDenied', message, 'Unauthorized', httpStatus),
  keyAlreadyExists: () =>
    new StorageError(409, 'KeyAlreadyExists', 'The resource already exists', 'Duplicate'),
  bucketAlreadyExists: () =>
    new StorageError(409, 'BucketAlreadyExists', 'The resource already exists', 'Duplicate'),
  resourceAlreadyExists: () =>
    new StorageError(409, 'ResourceAlreadyExists', 'The resource already exists', 'Duplicate'),
  bucketNotEmpty: () =>
    new StorageError(409, 'ResourceNotEmpty', 'The bucket you tried to delete is not empty'),
  entityTooLarge: (entity = 'object', limit = 'the maximum allowed size') =>
    new StorageError(
      413,
      'EntityTooLarge',
      `The ${entity} exceeded ${limit}`,
      'Payload too large',
    ),
  invalidMimeType: (mimeType: string) =>
    new StorageError(
      415,
      'InvalidMimeType',
      `mime type ${mimeType} is not supported`,
      'invalid_mime_type',
    ),
  invalidFileSizeLimit: () =>
    new StorageError(
      400,
      'InvalidRequest',
      'Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B',
    ),
  /** An object and a folder with the same name: S3 stores both, a local folder tree cannot. */
  pathConflict: () =>
    new StorageError(
      409,
      'ResourceAlreadyExists',
      'The local stack cannot store an object and a folder under the same name',
      'Duplicate',
    ),
  noContent: () => new StorageError(400, 'InvalidRequest', 'No content provided'),
  /** A request that fails Storage's schema (a missing or mistyped field, named in the message). */
  invalidRequest: (message: string) =>
    new StorageError(400, 'InvalidRequest', message, 'Bad Request'),
  invalidParameter: (name: string) =>
    new StorageError(400, 'InvalidParameter', `Invalid Parameter ${name}`),
  routeNotFound: (method: string, path: string) =>
    new StorageError(404, 'InvalidRequest', `Route ${method}:${path} not found`, 'Not Found', 404),
  internal: () => new StorageError(500, 'InternalError', 'Internal server error', 'Internal'),
}

/** Postgres errors as Storage maps them (RLS refusals, duplicates, bad values, timeouts). */
export function fromPgError(err: { code?: string; message: string }): StorageError {
  switch (err.code) {
    case '42501':
      return ERRORS.accessDenied(
        err.message.includes('row-level security')
          ? 'new row violates row-level security policy'
          : err.message,
      )
    case '23505':
      return ERRORS.resourceAlreadyExists()
    case '23503':
      return new StorageError(404, 'InvalidRequest', 'The related resource does not exist')
    case '22P02':
      return new StorageError(400, 'InvalidParameter', err.message)
    case '57014':
      return new StorageError(
        544,
        'DatabaseTimeout',
        'The connection to the database timed out',
        'DatabaseTimeout',
        544,
      )
    default:
      return new StorageError(500, 'DatabaseError', `database error, code: ${err.code}`)
  }
}

function isPgError(err: unknown): err is { code: string; message: string } {
  return err instanceof Error && (err as { name?: string }).name === 'PostgresError'
}

/** The SQLSTATE of a Postgres error, undefined for anything else. */
export function pgCode(err: unknown): string | undefined {
  return isPgError(err) ? err.code : undefined
}

export function errorResponse(err: unknown, method = 'GET'): Response {
  let e: StorageError
  if (err instanceof StorageError) e = err
  else if (isPgError(err)) e = fromPgError(err)
  else {
    console.error('storage: unexpected error', err)
    e = ERRORS.internal()
  }
  const status = e.httpStatus ?? (e.statusCode === 500 ? 500 : 400)
  const body = {
    statusCode: String(e.statusCode),
    code: e.code,
    error: e.error,
    message: e.message,
  }
  return jsonResponse(status, method === 'HEAD' ? undefined : body)
}
