// multipart/form-data as Storage reads it: text fields, and the first file part whatever its
// field name. supabase-js sends a Blob under the empty name "", which Request.formData() drops,
// so the body is split here.
import { Buffer } from 'node:buffer'
import { ERRORS } from './errors.ts'

export interface FilePart {
  bytes: Uint8Array<ArrayBuffer>
  /** The part's Content-Type; '' when it has none. */
  type: string
}

export interface MultipartForm {
  fields: Map<string, string>
  file?: FilePart
}

const CRLF = Buffer.from('\r\n')
const HEADER_END = Buffer.from('\r\n\r\n')

function boundaryOf(contentType: string): string {
  const m = /;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType)
  if (!m) throw ERRORS.noContent()
  return m[1] ?? m[2]
}

/** Parses a buffered multipart body; a malformed one is "No content provided", as Storage says. */
export function parseMultipart(body: Uint8Array, contentType: string): MultipartForm {
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  const delimiter = Buffer.from(`--${boundaryOf(contentType)}`)
  const form: MultipartForm = { fields: new Map() }
  let at = buf.indexOf(delimiter)
  if (at < 0) throw ERRORS.noContent()
  for (;;) {
    at += delimiter.length
    if (buf.subarray(at, at + 2).toString() === '--') return form
    if (!buf.subarray(at, at + 2).equals(CRLF)) throw ERRORS.noContent()
    const headersEnd = buf.indexOf(HEADER_END, at + 2)
    if (headersEnd < 0) throw ERRORS.noContent()
    const headers = buf.subarray(at + 2, headersEnd).toString('utf8').split('\r\n')
    const next = buf.indexOf(Buffer.concat([CRLF, delimiter]), headersEnd + 4)
    if (next < 0) throw ERRORS.noContent()
    const content = buf.subarray(headersEnd + 4, next)
    const header = (name: string) =>
      headers.find((h) => h.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim()
    const disposition = header('content-disposition') ?? ''
    const name = /;\s*name="([^"]*)"/i.exec(disposition)?.[1] ?? ''
    if (/;\s*filename="/i.test(disposition)) {
      form.file ??= { bytes: new Uint8Array(content), type: header('content-type') ?? '' }
    } else {
      form.fields.set(name, content.toString('utf8'))
    }
    at = next + CRLF.length
  }
}
