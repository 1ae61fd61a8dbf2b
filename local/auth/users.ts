// auth.users and auth.identities as GoTrue reads and writes them: the user JSON it answers with,
// lookups by email and id, creation with pgcrypto's bcrypt and the email identity, metadata
// merges. Every statement runs on the caller's connection or transaction as supabase_auth_admin.
import type postgres from 'postgres'

export type Db = postgres.Sql | postgres.TransactionSql
export type Json = Record<string, unknown>

/** GoTrue's user JSON; only what Auth reads back is typed, the rest passes through. */
export interface AuthUser extends Json {
  id: string
  aud: string
  role: string
  email: string
  phone: string
  app_metadata: Json
  user_metadata: Json
  is_anonymous: boolean
}

/** GoTrue's one audience: every user and token here is 'authenticated'. */
export const AUDIENCE = 'authenticated'
/** GoTrue writes the nil instance id on every row it creates. */
export const NIL_UUID = '00000000-0000-0000-0000-000000000000'
/** app_metadata of a user who signs in with email + password. */
export const EMAIL_APP_METADATA = { provider: 'email', providers: ['email'] }

/** A timestamp as Go's JSON encoder writes it (UTC, 'Z'); null stays null (and is dropped). */
const ts = (column: string) =>
  `pg_catalog.to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

// Optional fields are omitted when empty (Go's omitempty), so they sit in their own
// jsonb_strip_nulls; metadata is merged after it, so a null inside metadata survives.
const IDENTITY_JSON = `
  pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
    'last_sign_in_at', ${ts('i.last_sign_in_at')}, 'email', i.email))
  || pg_catalog.jsonb_build_object(
    'identity_id', i.id, 'id', i.provider_id, 'user_id', i.user_id,
    'identity_data', i.identity_data, 'provider', i.provider,
    'created_at', ${ts('i.created_at')}, 'updated_at', ${ts('i.updated_at')})`

const USER_JSON = `
  pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
    'email_confirmed_at', ${ts('u.email_confirmed_at')},
    'invited_at', ${ts('u.invited_at')},
    'phone_confirmed_at', ${ts('u.phone_confirmed_at')},
    'confirmation_sent_at', ${ts('u.confirmation_sent_at')},
    'confirmed_at', ${ts('u.confirmed_at')},
    'recovery_sent_at', ${ts('u.recovery_sent_at')},
    'new_email', nullif(u.email_change, ''),
    'email_change_sent_at', ${ts('u.email_change_sent_at')},
    'new_phone', nullif(u.phone_change, ''),
    'phone_change_sent_at', ${ts('u.phone_change_sent_at')},
    'reauthentication_sent_at', ${ts('u.reauthentication_sent_at')},
    'last_sign_in_at', ${ts('u.last_sign_in_at')},
    'banned_until', ${ts('u.banned_until')},
    'deleted_at', ${ts('u.deleted_at')}))
  || pg_catalog.jsonb_build_object(
    'id', u.id, 'aud', coalesce(u.aud, ''), 'role', coalesce(u.role, ''),
    'email', coalesce(u.email, ''), 'phone', coalesce(u.phone, ''),
    'app_metadata', coalesce(u.raw_app_meta_data, '{}'::jsonb),
    'user_metadata', coalesce(u.raw_user_meta_data, '{}'::jsonb),
    'identities', (select coalesce(pg_catalog.jsonb_agg(${IDENTITY_JSON} order by i.created_at),
                                   '[]'::jsonb)
                     from auth.identities i where i.user_id = u.id),
    'created_at', ${ts('u.created_at')}, 'updated_at', ${ts('u.updated_at')},
    'is_anonymous', u.is_anonymous)`

/**
 * GoTrue's metadata update: keys in `param` replace the column's, a key set to null is removed.
 * (`-` binds tighter than `||`; the parentheses say so anyway.)
 */
const mergeJson = (column: string, param: string) => `
  (coalesce(${column}, '{}'::jsonb)
     - array(select k.key from pg_catalog.jsonb_each(${param}) k where k.value = 'null'::jsonb))
  || coalesce((select pg_catalog.jsonb_object_agg(k.key, k.value)
                 from pg_catalog.jsonb_each(${param}) k where k.value <> 'null'::jsonb), '{}'::jsonb)`

/** What a sign-in needs to know besides the user JSON. */
export interface UserRecord {
  id: string
  confirmed: boolean
  banned: boolean
  json: AuthUser
}

const USER_RECORD = `
  select u.id::text as id, u.email_confirmed_at is not null as confirmed,
         coalesce(u.banned_until > pg_catalog.now(), false) as banned, ${USER_JSON} as json
    from auth.users u`

/** A password user by email, case-folded, as GoTrue finds one (SSO users are separate). */
export async function findUserByEmail(db: Db, email: string): Promise<UserRecord | null> {
  const rows = await db.unsafe<UserRecord[]>(
    `${USER_RECORD}
      where pg_catalog.lower(u.email) = pg_catalog.lower($1::text) and u.aud = $2::text
        and u.is_sso_user = false`,
    [email, AUDIENCE],
  )
  return rows[0] ?? null
}

export async function findUserById(db: Db, id: string): Promise<UserRecord | null> {
  const rows = await db.unsafe<UserRecord[]>(`${USER_RECORD} where u.id = $1::uuid`, [id])
  return rows[0] ?? null
}

/** True when `password` matches the stored bcrypt hash (seeded users without one never match). */
export async function passwordMatches(db: Db, id: string, password: string): Promise<boolean> {
  const [row] = await db.unsafe<{ ok: boolean }[]>(
    `select coalesce(u.encrypted_password ~ '^\\$2[abxy]?\\$'
             and u.encrypted_password = extensions.crypt($2::text, u.encrypted_password),
             false) as ok
       from auth.users u where u.id = $1::uuid`,
    [id, password],
  )
  return row?.ok ?? false
}

export interface NewUser {
  id: string
  email: string
  password: string
  confirmed: boolean
  /** Stamps confirmation_sent_at, as GoTrue does when it mails a confirmation link. */
  confirmationSent: boolean
  role: string
  appMetadata: Json
  userMetadata: Json
  identityData: Json
}

/** Inserts the user and its email identity (one statement); returns the user JSON. */
export async function insertUser(db: Db, user: NewUser): Promise<AuthUser> {
  await db.unsafe(
    `with u as (
       insert into auth.users (
         instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
         confirmation_sent_at, raw_app_meta_data, raw_user_meta_data, is_super_admin,
         created_at, updated_at, is_anonymous)
       values ($1::uuid, $2::uuid, $3::text, $4::text, $5::text,
               extensions.crypt($6::text, extensions.gen_salt('bf')),
               case when $7::boolean then pg_catalog.now() end,
               case when $8::boolean then pg_catalog.now() end,
               $9::text::jsonb, $10::text::jsonb, false, pg_catalog.now(), pg_catalog.now(), false)
       returning id)
     insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at,
                                  created_at, updated_at)
     select u.id::text, u.id, $11::text::jsonb, 'email', pg_catalog.now(), pg_catalog.now(),
            pg_catalog.now()
       from u`,
    [
      NIL_UUID,
      user.id,
      AUDIENCE,
      user.role,
      user.email,
      user.password,
      user.confirmed,
      user.confirmationSent,
      JSON.stringify(user.appMetadata),
      JSON.stringify(user.userMetadata),
      JSON.stringify(user.identityData),
    ],
  )
  return (await findUserById(db, user.id))!.json
}

export interface UserChanges {
  password?: string
  userMetadata?: Json
  appMetadata?: Json
}

/** Applies the given changes (each optional) and returns the user JSON. */
export async function updateUser(db: Db, id: string, changes: UserChanges): Promise<AuthUser> {
  await db.unsafe(
    `update auth.users u
        set encrypted_password = case when $2::text is null then u.encrypted_password
                                      else extensions.crypt($2::text, extensions.gen_salt('bf')) end,
            raw_user_meta_data = case when $3::text is null then u.raw_user_meta_data
                                      else ${
      mergeJson('u.raw_user_meta_data', '$3::text::jsonb')
    } end,
            raw_app_meta_data = case when $4::text is null then u.raw_app_meta_data
                                     else ${
      mergeJson('u.raw_app_meta_data', '$4::text::jsonb')
    } end,
            updated_at = pg_catalog.now()
      where u.id = $1::uuid`,
    [
      id,
      changes.password ?? null,
      changes.userMetadata ? JSON.stringify(changes.userMetadata) : null,
      changes.appMetadata ? JSON.stringify(changes.appMetadata) : null,
    ],
  )
  return (await findUserById(db, id))!.json
}

/** A page of users, newest first, and how many there are (GoTrue's admin list). */
export async function listUsers(
  db: Db,
  page: number,
  perPage: number,
): Promise<{ users: AuthUser[]; total: number }> {
  const [{ total }] = await db.unsafe<{ total: number }[]>(
    `select pg_catalog.count(*)::int as total from auth.users u where u.aud = $1::text`,
    [AUDIENCE],
  )
  const rows = await db.unsafe<{ json: AuthUser }[]>(
    `${USER_RECORD} where u.aud = $1::text order by u.created_at desc, u.id
      limit $2::int offset $3::int`,
    [AUDIENCE, perPage, (page - 1) * perPage],
  )
  return { users: rows.map((r) => r.json), total }
}

export async function deleteUser(db: Db, id: string): Promise<void> {
  await db.unsafe(`delete from auth.users u where u.id = $1::uuid`, [id])
}

/**
 * GoTrue's soft delete: the row stays (foreign keys keep pointing at it) but can never sign in
 * again: no email, phone or password, empty metadata, no identities or sessions.
 */
export async function softDeleteUser(db: Db, id: string): Promise<void> {
  await db.unsafe(
    `update auth.users u
        set email = null, phone = null, encrypted_password = '', raw_user_meta_data = '{}'::jsonb,
            raw_app_meta_data = '{}'::jsonb, deleted_at = pg_catalog.now(),
            updated_at = pg_catalog.now()
      where u.id = $1::uuid`,
    [id],
  )
  await db.unsafe(`delete from auth.identities i where i.user_id = $1::uuid`, [id])
  await db.unsafe(`delete from auth.sessions s where s.user_id = $1::uuid`, [id])
}
