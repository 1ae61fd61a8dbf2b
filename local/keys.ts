// The Supabase CLI's well-known local credentials. They are public on purpose: every
// `supabase start` uses the same secret, so tools and docs can hard-wire the demo keys.
import { SignJWT } from 'jose'

export const LOCAL_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long'
export const LOCAL_DB_PASSWORD = 'postgres'

// The CLI's demo keys carry exactly these claims; HS256 is deterministic, so signing them
// again yields the same well-known strings (a test pins the anon key).
const DEMO_EXPIRY = 1983812996

export type ApiRole = 'anon' | 'service_role'

export function signDemoKey(role: ApiRole, secret = LOCAL_JWT_SECRET): Promise<string> {
  return new SignJWT({ iss: 'supabase-demo', role, exp: DEMO_EXPIRY })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secret))
}

export interface LocalKeys {
  jwtSecret: string
  anonKey: string
  serviceRoleKey: string
}

export async function localKeys(): Promise<LocalKeys> {
  return {
    jwtSecret: LOCAL_JWT_SECRET,
    anonKey: await signDemoKey('anon'),
    serviceRoleKey: await signDemoKey('service_role'),
  }
}
