-- supabase/tests/_helpers/tests_schema.sql — pgTAP helpers in schema `tests`: create users, act
-- as a user / as service_role / as nobody, and assert RLS coverage. Applied once (as postgres)
-- by the test runner after migrations and after pgTAP is installed in schema `extensions`;
-- pg_prove then runs the *.test.sql files, which call these. Idempotent; never deployed.
--
-- Role switching works the way PostgREST and our functions do it: transaction-local
-- `role` and `request.jwt.claims` settings, so everything ends with the test's rollback.


-- =============================================================================================
-- Schema
-- =============================================================================================

-- Tests call the helpers after switching to an API role, so those roles need usage and EXECUTE.
create schema if not exists tests;
grant usage on schema tests to anon, authenticated, service_role;


-- =============================================================================================
-- Users
-- =============================================================================================

-- Creates a confirmed email user and returns its id. `identifier` is the test's handle for the
-- user (kept in raw_user_meta_data ->> 'test_identifier'); email defaults to
-- <identifier>@example.test. SECURITY DEFINER: tests may call it after switching to an API role,
-- which has no rights on auth.users.
create or replace function tests.create_supabase_user(
  identifier text,
  email text default null,
  metadata jsonb default null
)
returns uuid
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  user_id uuid := gen_random_uuid();
begin
  -- GUARD: identifiers name users uniquely within a test.
  if exists (select 1 from auth.users u where u.raw_user_meta_data ->> 'test_identifier' = identifier) then
    raise exception 'test user "%" already exists', identifier using errcode = 'unique_violation';
  end if;

  insert into auth.users (
    instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
    raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at
  ) values (
    '00000000-0000-0000-0000-000000000000', user_id, 'authenticated', 'authenticated',
    coalesce(email, identifier || '@example.test'), '', now(),
    '{"provider": "email", "providers": ["email"]}'::jsonb,
    coalesce(metadata, '{}'::jsonb) || pg_catalog.jsonb_build_object('test_identifier', identifier),
    false, now(), now()
  );
  return user_id;
end
$$;
grant execute on function tests.create_supabase_user(text, text, jsonb)
  to anon, authenticated, service_role;

-- The id of a user made by create_supabase_user; raises (P0002) for an unknown identifier so a
-- typo fails loudly instead of authenticating as nobody. SECURITY DEFINER: reads auth.users.
create or replace function tests.get_supabase_uid(identifier text)
returns uuid
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  user_id uuid;
begin
  select u.id into user_id
  from auth.users u
  where u.raw_user_meta_data ->> 'test_identifier' = identifier;

  if user_id is null then
    raise exception 'test user "%" does not exist', identifier using errcode = 'no_data_found';
  end if;
  return user_id;
end
$$;
grant execute on function tests.get_supabase_uid(text) to anon, authenticated, service_role;

-- The JWT claims Supabase Auth would issue for a test user. Internal to authenticate_as, which
-- cannot itself be SECURITY DEFINER (Postgres forbids setting `role` inside one) yet must read
-- auth.users.
create or replace function tests._user_claims(identifier text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'sub', u.id,
    'role', 'authenticated',
    'aud', 'authenticated',
    'email', u.email,
    'app_metadata', coalesce(u.raw_app_meta_data, '{}'::jsonb),
    'user_metadata', coalesce(u.raw_user_meta_data, '{}'::jsonb),
    'is_anonymous', u.is_anonymous)
  from auth.users u
  where u.id = tests.get_supabase_uid(identifier)
$$;
grant execute on function tests._user_claims(text) to anon, authenticated, service_role;


-- =============================================================================================
-- Acting as someone (transaction-local, like a PostgREST request)
-- =============================================================================================

-- Act as the given test user: role `authenticated` with that user's claims, so auth.uid() and
-- RLS behave as for a signed-in request.
create or replace function tests.authenticate_as(identifier text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  claims jsonb := tests._user_claims(identifier);
begin
  perform pg_catalog.set_config('role', 'authenticated', true);
  perform pg_catalog.set_config('request.jwt.claims', claims::text, true);
end
$$;
grant execute on function tests.authenticate_as(text) to anon, authenticated, service_role;

-- Act as the service_role key: RLS bypassed, no user.
create or replace function tests.authenticate_as_service_role()
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform pg_catalog.set_config('role', 'service_role', true);
  perform pg_catalog.set_config('request.jwt.claims', '{"role": "service_role"}', true);
end
$$;
grant execute on function tests.authenticate_as_service_role() to anon, authenticated, service_role;

-- Act as the anon key: what a client without a signed-in user may do.
create or replace function tests.authenticate_as_anon()
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform pg_catalog.set_config('role', 'anon', true);
  perform pg_catalog.set_config('request.jwt.claims', '{"role": "anon"}', true);
end
$$;
grant execute on function tests.authenticate_as_anon() to anon, authenticated, service_role;

-- Back to the session user (postgres in tests) with no claims at all; `role = none` is what
-- `reset role` does.
create or replace function tests.clear_authentication()
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform pg_catalog.set_config('role', 'none', true);
  perform pg_catalog.set_config('request.jwt.claims', '', true);
  perform pg_catalog.set_config('request.jwt.claim.sub', '', true);
  perform pg_catalog.set_config('request.jwt.claim.role', '', true);
  perform pg_catalog.set_config('request.jwt.claim.email', '', true);
end
$$;
grant execute on function tests.clear_authentication() to anon, authenticated, service_role;


-- =============================================================================================
-- Assertions
-- =============================================================================================

-- pgTAP assertion: every table (and partition) in `schema_name` has row level security
-- enabled. On failure a diagnostic lists the offenders. search_path is pinned to `extensions`
-- rather than '' because pgTAP's own functions resolve their internals through it.
create or replace function tests.rls_enabled(schema_name text)
returns text
language plpgsql
volatile
set search_path = extensions, pg_temp
as $$
declare
  offenders text;
  description constant text := pg_catalog.format(
    'every table in schema %s has row level security enabled', schema_name);
begin
  select pg_catalog.string_agg(pg_catalog.format('%I.%I', n.nspname, c.relname), ', '
                               order by c.relname)
    into offenders
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = schema_name
    and c.relkind in ('r', 'p')
    and not c.relrowsecurity;

  if offenders is null then
    return extensions.ok(true, description);
  end if;
  return extensions.ok(false, description) || E'\n'
    || extensions.diag('tables without row level security: ' || offenders);
end
$$;
grant execute on function tests.rls_enabled(text) to anon, authenticated, service_role;
