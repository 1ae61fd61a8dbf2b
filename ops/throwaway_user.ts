// Throwaway Auth users for the checks that need a real signed-in user (smoke's journey, health's
// sign-up): created through the project's Auth API as an app or an admin would, and deleted
// through the admin API afterwards, with what their creation queued.
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import type { Sql, Target } from './connection.ts'

/**
 * Addresses are `<label>+<stamp>@<domain>`. example.com is reserved (RFC 2606), so a
 * confirmation mail to it goes nowhere; a project with confirmations on and a strict sender can
 * pass a domain it owns instead.
 */
export const DEFAULT_EMAIL_DOMAIN = 'example.com'

export interface ThrowawayUser {
  id: string
  email: string
  password: string
}

/** A supabase-js client with `key` as apikey, acting as `accessToken`'s user when given. */
export function apiClient(target: Target, key: string, accessToken?: string): SupabaseClient {
  return createClient(target.apiUrl, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: accessToken ? { headers: { Authorization: `Bearer ${accessToken}` } } : undefined,
  })
}

export function throwawayCredentials(label: string, domain = DEFAULT_EMAIL_DOMAIN) {
  const stamp = `${Date.now()}-${crypto.randomUUID().slice(0, 8)}`
  // Upper, lower, digit and symbol: passes any password policy a project may set.
  return { email: `${label}+${stamp}@${domain}`, password: `Ops-${crypto.randomUUID()}-9!` }
}

/** A confirmed user made with the admin API (no mail is sent). */
export async function createConfirmedUser(
  target: Target,
  label: string,
  domain?: string,
): Promise<ThrowawayUser> {
  const creds = throwawayCredentials(label, domain)
  const { data, error } = await apiClient(target, target.serviceRoleKey).auth.admin.createUser({
    ...creds,
    email_confirm: true,
  })
  if (error || !data.user) {
    throw new Error(`creating a throwaway user failed: ${error?.message ?? 'no user returned'}`)
  }
  return { id: data.user.id, ...creds }
}

/** The queue-worker topic a new auth.users row queues a job on (its payload names the user). */
export const SIGNUP_TOPIC = 'discovery.user-signup'

/**
 * Deletes the user through the admin API (foreign keys and triggers remove their interests,
 * discovery items, learning events and features), and what no foreign key or trigger reaches:
 * the signup job their creation queued, and the reward deltas their learning events logged
 * for the next hydrate (left there, the hydrate would count rewards of events that are gone).
 */
export async function deleteUser(target: Target, sql: Sql, id: string): Promise<void> {
  await sql`delete from public.events_queue q
             where q.topic = ${SIGNUP_TOPIC} and q.payload ->> 'user_id' = ${id}`
  await sql`delete from ops.learning_reward_log r where r.user_id = ${id}::uuid`
  const { error } = await apiClient(target, target.serviceRoleKey).auth.admin.deleteUser(id)
  if (error) throw new Error(`deleting throwaway user ${id} failed: ${error.message}`)
}
