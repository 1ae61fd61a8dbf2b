// GoTrue's input rules for emails and passwords, with its codes, statuses and messages.
import { AuthError, badRequest } from './errors.ts'

/** bcrypt reads at most 72 bytes; GoTrue refuses longer passwords rather than truncate them. */
const MAX_PASSWORD_BYTES = 72
const MAX_EMAIL_LENGTH = 255
// The HTML living standard's valid-email-address, which is what GoTrue's format check accepts.
const EMAIL_FORMAT =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/

/** Returns the email case-folded, as GoTrue stores it, or throws validation_failed. */
export function validateEmail(email: string): string {
  if (email === '') throw badRequest('validation_failed', 'An email address is required')
  if (email.length > MAX_EMAIL_LENGTH) {
    throw badRequest('validation_failed', 'An email address is too long')
  }
  if (!EMAIL_FORMAT.test(email)) {
    throw badRequest('validation_failed', 'Unable to validate email address: invalid format')
  }
  return email.toLowerCase()
}

const byteLength = (s: string) => new TextEncoder().encode(s).length

/** Throws when bcrypt could not hash the password faithfully. */
export function checkPasswordLength(password: string): void {
  if (byteLength(password) > MAX_PASSWORD_BYTES) {
    throw badRequest(
      'validation_failed',
      `Password cannot be longer than ${MAX_PASSWORD_BYTES} characters`,
    )
  }
}

/** Why a password is weak (GoTrue's `weak_password` payload), or null when it is strong enough. */
export function passwordWeakness(
  password: string,
  minimumLength: number,
): { message: string; reasons: string[] } | null {
  if (byteLength(password) >= minimumLength) return null
  return {
    message: `Password should be at least ${minimumLength} characters.`,
    reasons: ['length'],
  }
}

/** GoTrue's strength check on signup and password change: 422 weak_password with reasons. */
export function checkPasswordStrength(password: string, minimumLength: number): void {
  checkPasswordLength(password)
  const weak = passwordWeakness(password, minimumLength)
  if (weak) {
    throw new AuthError(422, 'weak_password', weak.message, {
      weak_password: { reasons: weak.reasons },
    })
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export const isUuid = (value: string) => UUID.test(value)
