-- local/bootstrap.sql — the slice of the Supabase platform our migrations, tests and functions
-- assume, recreated on plain PostgreSQL 15 so the Docker-free stack can stand in for
-- `supabase start`. Never deployed: on Supabase every object below already exists.
--
-- Applied by the local runner as superuser `postgres` to database `postgres` before the
-- migrations, on every start, inside one transaction. It must therefore be idempotent:
-- roles in DO blocks, `if not exists`, `create or replace`, grants that are safe to repeat.
-- Shapes (names, columns, signatures, grants) follow Supabase's so the same migrations apply
-- to both; where the stand-in is simpler than the real thing a comment says so.


-- Re-runs would otherwise print a NOTICE for every object that already exists.
set client_min_messages = warning;


-- =============================================================================================
-- Roles
-- =============================================================================================

-- The API roles PostgREST, Storage and the Edge runtime switch to after verifying a JWT.
-- nologin: nobody connects as them directly; noinherit: the role's own grants only, as Supabase.
-- service_role bypasses RLS because it is the trusted server-side key.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  -- The login role the API connects as before `set role`; noinherit so it holds no data rights
  -- of its own. The password is the well-known local one, like the Supabase CLI's.
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit password 'postgres';
  end if;
end
$$;

-- Supabase Auth's login role: the local Auth (local/auth) connects as it, as GoTrue does, and it
-- owns the auth tables below. noinherit and no rights on `public`: a trigger on auth.users that
-- writes elsewhere must be SECURITY DEFINER here exactly as on Supabase. Same local password.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin login noinherit password 'postgres';
  end if;
end
$$;
alter role supabase_auth_admin login noinherit;
alter role supabase_auth_admin set search_path = auth;

-- Re-assert the attributes on every run, so a role created by hand earlier converges.
alter role anon nologin noinherit;
alter role authenticated nologin noinherit;
alter role service_role nologin noinherit bypassrls;
alter role authenticator login noinherit;

-- authenticator switches into the API roles; postgres does too (tests, the runner, the gateway).
grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;

-- Supabase caps how long an API request may run. Applied at login of these roles (PostgREST
-- applies them after `set role`); harmless for `set role` in tests, which does not read them.
alter role anon set statement_timeout = '3s';
alter role authenticated set statement_timeout = '8s';


-- =============================================================================================
-- Schemas, extensions and the database search_path
-- =============================================================================================

-- Supabase installs extensions into `extensions`, not `public`, and puts it on the path.
create schema if not exists extensions;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;

-- Same default path as a Supabase database, so unqualified extension calls resolve alike.
-- (Functions we write still pin `search_path = ''`.) Takes effect for new sessions.
do $$
begin
  execute pg_catalog.format(
    'alter database %I set search_path = "$user", public, extensions',
    pg_catalog.current_database());
end
$$;

create schema if not exists auth;
create schema if not exists storage;
create schema if not exists vault;
create schema if not exists net;
create schema if not exists supabase_migrations;

-- Schema usage as Supabase grants it: the API roles may resolve names in these schemas; what
-- they may do with the objects inside is decided object by object (and by RLS).
grant usage on schema public to anon, authenticated, service_role;
grant usage on schema extensions to anon, authenticated, service_role;
grant usage on schema auth to anon, authenticated, service_role;
grant usage on schema storage to anon, authenticated, service_role;
-- pg_net's schema is visible to the API roles; its functions grant EXECUTE one by one below.
grant usage on schema net to anon, authenticated, service_role;
-- vault and supabase_migrations: postgres only (no grants).
revoke all on schema vault from public, anon, authenticated, service_role;
revoke all on schema supabase_migrations from public, anon, authenticated, service_role;


-- =============================================================================================
-- supabase_migrations — the CLI's ledger of applied migrations
-- =============================================================================================

-- One row per applied migration file, written by `supabase db push` / the local runner in the
-- same transaction as the file; health_check reads the latest version from here.
create table if not exists supabase_migrations.schema_migrations (
  version text primary key,
  statements text[],
  name text
);


-- =============================================================================================
-- Default privileges on `public` (Supabase's classic project defaults)
-- =============================================================================================

-- Supabase projects have long granted everything created in `public` to the API roles by
-- default. We mirror that so our migrations are proven against those defaults: they must revoke
-- and grant explicitly (DESIGN §5), and 20261122000100_platform_extensions revokes these.
--
-- GUARD: only while no migration has been recorded, i.e. on a fresh database — the state of a
-- new Supabase project. Re-granting on every start would silently undo the migration's revoke
-- for every later migration, which real Supabase never does.
do $$
begin
  if not exists (select 1 from supabase_migrations.schema_migrations) then
    alter default privileges for role postgres in schema public
      grant all on tables to anon, authenticated, service_role;
    alter default privileges for role postgres in schema public
      grant all on sequences to anon, authenticated, service_role;
    alter default privileges for role postgres in schema public
      grant all on functions to anon, authenticated, service_role;
  end if;
end
$$;


-- =============================================================================================
-- auth — users and the JWT claim accessors RLS policies call
-- =============================================================================================

-- GoTrue's user table with Supabase's columns, so seeds and tests that insert users directly
-- work on both. ids have no default on Supabase either (GoTrue generates them): pass one.
create table if not exists auth.users (
  instance_id uuid,
  id uuid not null primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change_token_new varchar(255),
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz,
  phone_change text default '',
  phone_change_token varchar(255) default '',
  phone_change_sent_at timestamptz,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  email_change_token_current varchar(255) default '',
  email_change_confirm_status smallint default 0
    check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
  banned_until timestamptz,
  reauthentication_token varchar(255) default '',
  reauthentication_sent_at timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);

-- One account per email among password/OTP users, as GoTrue enforces (SSO users may repeat).
create unique index if not exists users_email_partial_key
  on auth.users (email) where is_sso_user = false;
-- GoTrue looks users up by instance and case-folded email.
create index if not exists users_instance_id_email_idx on auth.users (instance_id, lower(email));
create index if not exists users_instance_id_idx on auth.users (instance_id);

-- Nobody reads users through the API: locked with RLS and no API-role grants.
alter table auth.users enable row level security;
revoke all on auth.users from public, anon, authenticated, service_role;

-- How a user can sign in: one row per provider identity (the email identity for password
-- users). GoTrue's columns; provider_id is the user's id for the email provider.
create table if not exists auth.identities (
  provider_id text not null,
  user_id uuid not null references auth.users (id) on delete cascade,
  identity_data jsonb not null,
  provider text not null,
  last_sign_in_at timestamptz,
  created_at timestamptz,
  updated_at timestamptz,
  email text generated always as (lower(identity_data ->> 'email')) stored,
  id uuid not null default gen_random_uuid() primary key,
  constraint identities_provider_id_provider_unique unique (provider_id, provider)
);
create index if not exists identities_user_id_idx on auth.identities (user_id);
create index if not exists identities_email_idx on auth.identities (email text_pattern_ops);

-- GoTrue's authenticator assurance levels; a password session is aal1.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_type t
                   join pg_catalog.pg_namespace n on n.oid = t.typnamespace
                  where n.nspname = 'auth' and t.typname = 'aal_level') then
    create type auth.aal_level as enum ('aal1', 'aal2', 'aal3');
  end if;
end
$$;

-- One row per signed-in session; access tokens carry its id as `session_id`, and signing out
-- deletes it (its refresh tokens go with it).
create table if not exists auth.sessions (
  id uuid not null primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  created_at timestamptz,
  updated_at timestamptz,
  factor_id uuid,
  aal auth.aal_level,
  not_after timestamptz,
  refreshed_at timestamp,
  user_agent text,
  ip inet,
  tag text
);
create index if not exists sessions_user_id_idx on auth.sessions (user_id);
create index if not exists user_id_created_at_idx on auth.sessions (user_id, created_at);
create index if not exists sessions_not_after_idx on auth.sessions (not_after desc);

-- Refresh tokens, rotated on use: a refresh revokes the token it was given and issues a child
-- (`parent` = the spent token) in the same session. user_id is text, as in GoTrue.
create table if not exists auth.refresh_tokens (
  instance_id uuid,
  id bigserial primary key,
  token varchar(255) constraint refresh_tokens_token_unique unique,
  user_id varchar(255),
  revoked boolean,
  created_at timestamptz,
  updated_at timestamptz,
  parent varchar(255),
  session_id uuid references auth.sessions (id) on delete cascade
);
create index if not exists refresh_tokens_instance_id_idx on auth.refresh_tokens (instance_id);
create index if not exists refresh_tokens_instance_id_user_id_idx
  on auth.refresh_tokens (instance_id, user_id);
create index if not exists refresh_tokens_parent_idx on auth.refresh_tokens (parent);
create index if not exists refresh_tokens_session_id_revoked_idx
  on auth.refresh_tokens (session_id, revoked);
create index if not exists refresh_tokens_updated_at_idx on auth.refresh_tokens (updated_at desc);

-- Auth's role owns its tables, as on Supabase, so RLS (on, no policies) hides them from the API
-- roles but not from Auth. It needs `extensions` for pgcrypto's crypt() / gen_salt().
grant usage, create on schema auth to supabase_auth_admin;
grant usage on schema extensions to supabase_auth_admin;
alter table auth.users owner to supabase_auth_admin;
alter table auth.identities owner to supabase_auth_admin;
alter table auth.sessions owner to supabase_auth_admin;
alter table auth.refresh_tokens owner to supabase_auth_admin;
alter table auth.identities enable row level security;
alter table auth.sessions enable row level security;
alter table auth.refresh_tokens enable row level security;
revoke all on auth.identities, auth.sessions, auth.refresh_tokens
  from public, anon, authenticated, service_role;
revoke all on sequence auth.refresh_tokens_id_seq from public, anon, authenticated, service_role;

-- The verified JWT's claims as jsonb. PostgREST (v10+) and our functions set
-- `request.jwt.claims`; older PostgREST set one `request.jwt.claim` setting — read either.
-- nullif: a transaction-local setting reads back as '' after its transaction ends.
create or replace function auth.jwt()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(
    nullif(pg_catalog.current_setting('request.jwt.claims', true), ''),
    nullif(pg_catalog.current_setting('request.jwt.claim', true), '')
  )::jsonb
$$;
grant execute on function auth.jwt() to anon, authenticated, service_role;

-- The caller's user id (JWT `sub`), or null for anon/service calls. Falls back to the legacy
-- per-claim setting `request.jwt.claim.sub`.
create or replace function auth.uid()
returns uuid
language sql
stable
set search_path = ''
as $$
  select coalesce(
    nullif(
      nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb
        ->> 'sub', ''),
    nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), '')
  )::uuid
$$;
grant execute on function auth.uid() to anon, authenticated, service_role;

-- The JWT `role` claim ('anon' | 'authenticated' | 'service_role'), legacy fallback as above.
create or replace function auth.role()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(
    nullif(
      nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb
        ->> 'role', ''),
    nullif(pg_catalog.current_setting('request.jwt.claim.role', true), '')
  )::text
$$;
grant execute on function auth.role() to anon, authenticated, service_role;

-- The JWT `email` claim, legacy fallback as above.
create or replace function auth.email()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(
    nullif(
      nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb
        ->> 'email', ''),
    nullif(pg_catalog.current_setting('request.jwt.claim.email', true), '')
  )::text
$$;
grant execute on function auth.email() to anon, authenticated, service_role;


-- =============================================================================================
-- storage — buckets, objects and the helpers storage policies call. The files themselves live
-- on local disk, served at /storage/v1 by local/storage.
-- =============================================================================================

-- Supabase Storage's login role: the local Storage (local/storage) connects as it, as the Storage
-- server does, and owns the storage tables. It runs every query as an API role — the caller's,
-- so storage RLS applies, or service_role for its own bookkeeping — hence the memberships.
-- noinherit: nothing of those roles' rights leaks into its own session. Same local password.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'supabase_storage_admin') then
    create role supabase_storage_admin login noinherit password 'postgres';
  end if;
end
$$;
alter role supabase_storage_admin login noinherit;
alter role supabase_storage_admin set search_path = storage;
grant anon, authenticated, service_role to supabase_storage_admin;
grant usage, create on schema storage to supabase_storage_admin;

-- Storage's bucket kinds; objects live in STANDARD buckets, the only kind served here.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_type t
                   join pg_catalog.pg_namespace n on n.oid = t.typnamespace
                  where n.nspname = 'storage' and t.typname = 'buckettype') then
    create type storage.buckettype as enum ('STANDARD', 'ANALYTICS', 'VECTOR');
  end if;
end
$$;

-- Storage's bucket registry, Supabase's columns. file_size_limit (bytes) and
-- allowed_mime_types are enforced on upload; public buckets are readable without RLS.
create table if not exists storage.buckets (
  id text not null primary key,
  name text not null,
  owner uuid,
  owner_id text,
  public boolean default false,
  avif_autodetection boolean default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  created_at timestamptz default now(),
  updated_at timestamptz default now()
);
-- Added after the first version of this file: a database bootstrapped before converges.
alter table storage.buckets
  add column if not exists type storage.buckettype not null default 'STANDARD';
create unique index if not exists bname on storage.buckets (name);

-- One row per stored object; path_tokens lets policies match folders as Supabase's do.
-- metadata is what Storage records of the file: size, mimetype, eTag, cacheControl,
-- lastModified, contentLength, httpStatusCode; user_metadata is the uploader's own JSON.
create table if not exists storage.objects (
  id uuid not null default gen_random_uuid() primary key,
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  owner_id text,
  metadata jsonb,
  user_metadata jsonb,
  path_tokens text[] generated always as (pg_catalog.string_to_array(name, '/')) stored,
  version text,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_accessed_at timestamptz default now()
);
create unique index if not exists bucketid_objname on storage.objects (bucket_id, name);

-- As on Supabase: the API roles hold table grants and RLS (no policies until a migration adds
-- them) decides what anon/authenticated may touch; service_role bypasses RLS. Storage's role
-- owns the tables.
alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;
grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
alter table storage.buckets owner to supabase_storage_admin;
alter table storage.objects owner to supabase_storage_admin;

-- Storage bumps updated_at on every change of an object row (an overwrite, a move).
create or replace function storage.update_updated_at_column()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at = pg_catalog.now();
  return new;
end
$$;
create or replace trigger update_objects_updated_at
  before update on storage.objects
  for each row execute function storage.update_updated_at_column();

-- A row deleted with plain SQL would orphan its file, so Supabase refuses direct deletes: only
-- Storage itself (which sets storage.allow_delete_query for its own statements) deletes rows.
-- Deliberate SQL clean-up can set it too, transaction-locally.
create or replace function storage.protect_delete()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if coalesce(pg_catalog.current_setting('storage.allow_delete_query', true), 'false')
     <> 'true' then
    raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
      using hint = 'This prevents accidental data loss from orphaned objects.',
            errcode = '42501';
  end if;
  return null;
end
$$;
create or replace trigger protect_buckets_delete
  before delete on storage.buckets
  for each statement execute function storage.protect_delete();
create or replace trigger protect_objects_delete
  before delete on storage.objects
  for each statement execute function storage.protect_delete();

-- The path helpers storage policies use, e.g. `(storage.foldername(name))[1] = auth.uid()::text`
-- for "users own the folder named after their id". Same names, signatures and results as
-- Supabase's: foldername('a/b/c.png') = {a,b}, filename = 'c.png', extension = 'png'.
create or replace function storage.foldername(name text)
returns text[]
language sql
immutable
set search_path = ''
as $$
  select parts[1 : pg_catalog.array_length(parts, 1) - 1]
    from pg_catalog.string_to_array(name, '/') as parts
$$;
grant execute on function storage.foldername(text) to anon, authenticated, service_role;

create or replace function storage.filename(name text)
returns text
language sql
immutable
set search_path = ''
as $$
  select parts[pg_catalog.array_length(parts, 1)]
    from pg_catalog.string_to_array(name, '/') as parts
$$;
grant execute on function storage.filename(text) to anon, authenticated, service_role;

create or replace function storage.extension(name text)
returns text
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.reverse(pg_catalog.split_part(pg_catalog.reverse(storage.filename(name)), '.', 1))
$$;
grant execute on function storage.extension(text) to anon, authenticated, service_role;

-- What `list` answers (Storage's signature): the entries one level below `prefix` whose names
-- start with prefix || search (case-insensitively) — a folder once per name, then files with
-- their row. Sorted by name, folders and files interleaved; by a timestamp, folders first.
-- `levels` is derived from prefix || search and the argument ignored, as Storage does now.
-- Invoker rights: the caller sees only the rows their storage RLS lets them select.
create or replace function storage.search(
  prefix text,
  bucketname text,
  limits integer default 100,
  levels integer default 1,
  offsets integer default 0,
  search text default '',
  sortcolumn text default 'name',
  sortorder text default 'asc'
)
returns table (
  name text,
  id uuid,
  updated_at timestamptz,
  created_at timestamptz,
  last_accessed_at timestamptz,
  metadata jsonb
)
language sql
stable
set search_path = ''
as $$
  with params as (
    select pg_catalog.lower(coalesce(prefix, '') || coalesce(search, '')) as wanted,
           coalesce(pg_catalog.array_length(
             pg_catalog.string_to_array(coalesce(prefix, '') || coalesce(search, ''), '/'), 1),
             1) as depth,
           pg_catalog.lower(coalesce(sortorder, 'asc')) = 'desc' as descending,
           case pg_catalog.lower(coalesce(sortcolumn, 'name'))
             when 'updated_at' then 'updated_at'
             when 'created_at' then 'created_at'
             when 'last_accessed_at' then 'last_accessed_at'
             else 'name'
           end as sort_by
  ),
  matched as (
    select o.path_tokens[p.depth] as entry,
           pg_catalog.array_length(o.path_tokens, 1) > p.depth as is_folder,
           o.id, o.updated_at, o.created_at, o.last_accessed_at, o.metadata
      from storage.objects o
     cross join params p
     where o.bucket_id = bucketname
       and pg_catalog.starts_with(pg_catalog.lower(o.name), p.wanted)
  ),
  entries as (
    select m.entry, true as is_folder, null::uuid as id, null::timestamptz as updated_at,
           null::timestamptz as created_at, null::timestamptz as last_accessed_at,
           null::jsonb as metadata
      from matched m
     where m.is_folder
     group by m.entry
    union all
    select m.entry, false, m.id, m.updated_at, m.created_at, m.last_accessed_at, m.metadata
      from matched m
     where not m.is_folder
  )
  select e.entry, e.id, e.updated_at, e.created_at, e.last_accessed_at, e.metadata
    from entries e
   cross join params p
   order by
     case when p.sort_by <> 'name' then e.is_folder end desc,
     case when not p.descending then
       case p.sort_by
         when 'updated_at' then e.updated_at
         when 'created_at' then e.created_at
         when 'last_accessed_at' then e.last_accessed_at
       end
     end asc,
     case when p.descending then
       case p.sort_by
         when 'updated_at' then e.updated_at
         when 'created_at' then e.created_at
         when 'last_accessed_at' then e.last_accessed_at
       end
     end desc,
     case when not p.descending then pg_catalog.lower(e.entry) end collate "C" asc,
     case when p.descending then pg_catalog.lower(e.entry) end collate "C" desc
   limit greatest(coalesce(limits, 100), 0)
  offset greatest(coalesce(offsets, 0), 0)
$$;
grant execute on function storage.search(text, text, integer, integer, integer, text, text, text)
  to anon, authenticated, service_role;


-- =============================================================================================
-- vault — named secrets for SQL (pg_cron jobs read the function URL and key from here)
-- =============================================================================================

-- Supabase Vault's table. LOCAL STAND-IN: `secret` is stored in PLAINTEXT here and key_id /
-- nonce stay null; on Supabase the column holds pgsodium ciphertext and only the view decrypts.
-- Fine for a throwaway dev database holding the well-known local keys, nothing else.
create table if not exists vault.secrets (
  id uuid not null default gen_random_uuid() primary key,
  name text unique,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- What callers read; `decrypted_secret` is the plaintext (here simply a copy of `secret`).
create or replace view vault.decrypted_secrets as
select
  s.id,
  s.name,
  s.description,
  s.secret,
  s.secret as decrypted_secret,
  s.key_id,
  s.nonce,
  s.created_at,
  s.updated_at
from vault.secrets s;

-- On Supabase only postgres reads secrets; no API role, not even service_role.
revoke all on vault.secrets, vault.decrypted_secrets from public, anon, authenticated, service_role;

-- Stores a secret and returns its id, Supabase's signature. Invoker rights: only postgres may
-- call it, and postgres owns the table.
create or replace function vault.create_secret(
  new_secret text,
  new_name text default null,
  new_description text default '',
  new_key_id uuid default null
)
returns uuid
language sql
volatile
set search_path = ''
as $$
  insert into vault.secrets (secret, name, description, key_id)
  values (new_secret, new_name, coalesce(new_description, ''), new_key_id)
  returning id
$$;
revoke all on function vault.create_secret(text, text, text, uuid)
  from public, anon, authenticated, service_role;

-- Replaces whichever fields are given (null keeps the current value), Supabase's signature.
create or replace function vault.update_secret(
  secret_id uuid,
  new_secret text default null,
  new_name text default null,
  new_description text default null,
  new_key_id uuid default null
)
returns void
language sql
volatile
set search_path = ''
as $$
  update vault.secrets
     set secret = coalesce(new_secret, secret),
         name = coalesce(new_name, name),
         description = coalesce(new_description, description),
         key_id = coalesce(new_key_id, key_id),
         updated_at = now()
   where id = secret_id
$$;
revoke all on function vault.update_secret(uuid, text, text, text, uuid)
  from public, anon, authenticated, service_role;


-- =============================================================================================
-- net — a pg_net-compatible request queue, drained by the local gateway
-- =============================================================================================

-- pg_net's queue: one row per outgoing request. The gateway sends a row only after the
-- transaction that queued it commits (it is woken by NOTIFY, which is delivered at commit, and
-- also polls), then deletes it and writes net._http_response — pg_net's semantics.
create table if not exists net.http_request_queue (
  id bigserial primary key,
  method text not null check (method in ('GET', 'POST', 'DELETE')),
  url text not null,
  headers jsonb not null,
  body bytea,
  timeout_milliseconds integer not null,
  created timestamptz not null default now()
);

-- pg_net's response log, keyed by the request id the http_* call returned.
create table if not exists net._http_response (
  id bigint primary key,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz not null default now()
);
-- Response GC and "latest responses" queries scan by age.
create index if not exists _http_response_created_idx on net._http_response (created);

-- Only the definer functions below and postgres (the gateway) touch the tables.
revoke all on net.http_request_queue, net._http_response
  from public, anon, authenticated, service_role;
revoke all on sequence net.http_request_queue_id_seq
  from public, anon, authenticated, service_role;

-- Percent-encodes text for a query string (RFC 3986 unreserved characters pass through).
-- Internal helper of the http_* functions.
create or replace function net._urlencode(value text)
returns text
language sql
immutable
strict
set search_path = ''
as $$
  select coalesce(pg_catalog.string_agg(
    case
      when b.byte between 48 and 57       -- 0-9
        or b.byte between 65 and 90       -- A-Z
        or b.byte between 97 and 122      -- a-z
        or b.byte in (45, 46, 95, 126)    -- - . _ ~
      then pg_catalog.chr(b.byte)
      else '%' || pg_catalog.upper(pg_catalog.lpad(pg_catalog.to_hex(b.byte), 2, '0'))
    end, '' order by b.i), '')
  from (
    select i, pg_catalog.get_byte(pg_catalog.convert_to(value, 'UTF8'), i) as byte
    from pg_catalog.generate_series(0, pg_catalog.octet_length(pg_catalog.convert_to(value, 'UTF8')) - 1) as i
  ) as b
$$;
revoke all on function net._urlencode(text) from public, anon, authenticated, service_role;

-- url plus `params` as an encoded query string, appended with '&' when url already has one.
create or replace function net._url_with_params(url text, params jsonb)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when params is null or params = '{}'::jsonb then url
    else url || case when pg_catalog.strpos(url, '?') > 0 then '&' else '?' end || (
      select pg_catalog.string_agg(net._urlencode(p.key) || '=' || net._urlencode(p.value), '&')
      from pg_catalog.jsonb_each_text(params) as p(key, value)
    )
  end
$$;
revoke all on function net._url_with_params(text, jsonb)
  from public, anon, authenticated, service_role;

-- Queues one request, wakes the gateway's drain, returns the request id.
-- SECURITY DEFINER (owner postgres), as pg_net's functions are: callers need only EXECUTE on
-- the http_* function, never rights on the queue table. Internal; no API role may call it.
create or replace function net._enqueue(
  method text,
  url text,
  headers jsonb,
  body bytea,
  timeout_milliseconds integer
)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  request_id bigint;
begin
  -- GUARD: a missing url would otherwise surface as a bare not-null violation.
  if url is null then
    raise exception 'net: url must not be null' using errcode = 'null_value_not_allowed';
  end if;

  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values (method, url, coalesce(headers, '{}'::jsonb), body, coalesce(timeout_milliseconds, 5000))
  returning id into request_id;

  -- NOTIFY is delivered only when this transaction commits, so the drain never sees a request
  -- whose transaction rolled back.
  perform pg_catalog.pg_notify('net_http_request_queue', request_id::text);
  return request_id;
end
$$;
revoke all on function net._enqueue(text, text, jsonb, bytea, integer)
  from public, anon, authenticated, service_role;

-- pg_net's GET. SECURITY DEFINER so callers need no rights on the queue table (see _enqueue).
create or replace function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds integer default 5000
)
returns bigint
language sql
volatile
security definer
set search_path = ''
as $$
  select net._enqueue('GET', net._url_with_params(url, params), headers, null, timeout_milliseconds)
$$;
revoke all on function net.http_get(text, jsonb, jsonb, integer)
  from public, anon, authenticated;
grant execute on function net.http_get(text, jsonb, jsonb, integer) to postgres, service_role;

-- pg_net's POST: a JSON body only. Like pg_net, a missing Content-Type is added and any other
-- content type is refused, so code that works here works on Supabase.
create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer default 5000
)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  content_type text;
begin
  select h.value into content_type
  from pg_catalog.jsonb_each_text(coalesce(headers, '{}'::jsonb)) as h(key, value)
  where pg_catalog.lower(h.key) = 'content-type'
  limit 1;

  if content_type is null then
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  elsif content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"'
      using errcode = 'invalid_parameter_value';
  end if;

  return net._enqueue(
    'POST',
    net._url_with_params(url, params),
    headers,
    pg_catalog.convert_to(body::text, 'UTF8'),
    timeout_milliseconds);
end
$$;
revoke all on function net.http_post(text, jsonb, jsonb, jsonb, integer)
  from public, anon, authenticated;
grant execute on function net.http_post(text, jsonb, jsonb, jsonb, integer)
  to postgres, service_role;

-- pg_net's DELETE (no body). SECURITY DEFINER for the same reason as http_get.
create or replace function net.http_delete(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds integer default 5000
)
returns bigint
language sql
volatile
security definer
set search_path = ''
as $$
  select net._enqueue('DELETE', net._url_with_params(url, params), headers, null, timeout_milliseconds)
$$;
revoke all on function net.http_delete(text, jsonb, jsonb, integer)
  from public, anon, authenticated;
grant execute on function net.http_delete(text, jsonb, jsonb, integer) to postgres, service_role;

-- Marks this `net` as ours, so the platform migration does not try to install the real pg_net
-- over it if the package ever appears on a local machine.
comment on schema net is 'edge-kernel local stand-in for pg_net (local/bootstrap.sql)';
