-- supabase/tests/_helpers/tests_schema.sql — pgTAP helpers in schema `tests`: create users, act
-- as a user / as service_role / as nobody, freeze the test's own clock, assert RLS coverage, and
-- compare SQL written twice on purpose. Applied once (as postgres) by the test runner after
-- migrations and after pgTAP is installed in schema `extensions`; pg_prove then runs the
-- *.test.sql files, which call these. Idempotent on a fresh test database; never deployed.
-- helpers_behave_as_documented.test.sql, beside this file, tests the helpers themselves.
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

-- Creates a confirmed email user and returns its id. `p_identifier` is the test's handle for the
-- user (kept in raw_user_meta_data ->> 'test_identifier'); p_email defaults to
-- <identifier>@example.test. SECURITY DEFINER: tests may call it after switching to an API role,
-- which has no rights on auth.users.
create or replace function tests.create_supabase_user(
  p_identifier text,
  p_email text default null,
  p_metadata jsonb default null
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
  if exists (select 1 from auth.users u
              where u.raw_user_meta_data ->> 'test_identifier' = p_identifier) then
    raise exception 'test user "%" already exists', p_identifier using errcode = 'unique_violation';
  end if;

  insert into auth.users (
    instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
    raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at
  ) values (
    '00000000-0000-0000-0000-000000000000', user_id, 'authenticated', 'authenticated',
    coalesce(p_email, p_identifier || '@example.test'), '', pg_catalog.now(),
    '{"provider": "email", "providers": ["email"]}'::jsonb,
    coalesce(p_metadata, '{}'::jsonb) || pg_catalog.jsonb_build_object('test_identifier', p_identifier),
    false, pg_catalog.now(), pg_catalog.now()
  );
  return user_id;
end
$$;
grant execute on function tests.create_supabase_user(text, text, jsonb)
  to anon, authenticated, service_role;

-- The id of a user made by create_supabase_user; raises (P0002) for an unknown identifier so a
-- typo fails loudly instead of authenticating as nobody. SECURITY DEFINER: reads auth.users.
create or replace function tests.get_supabase_uid(p_identifier text)
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
  where u.raw_user_meta_data ->> 'test_identifier' = p_identifier;

  if user_id is null then
    raise exception 'test user "%" does not exist', p_identifier using errcode = 'no_data_found';
  end if;
  return user_id;
end
$$;
grant execute on function tests.get_supabase_uid(text) to anon, authenticated, service_role;

-- The JWT claims Supabase Auth would issue for a test user. Internal to authenticate_as, which
-- cannot itself be SECURITY DEFINER (Postgres forbids setting `role` inside one) yet must read
-- auth.users.
create or replace function tests._user_claims(p_identifier text)
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
  where u.id = tests.get_supabase_uid(p_identifier)
$$;
grant execute on function tests._user_claims(text) to anon, authenticated, service_role;


-- =============================================================================================
-- Acting as someone (transaction-local, like a PostgREST request)
-- =============================================================================================

-- Act as the given test user: role `authenticated` with that user's claims, so auth.uid() and
-- RLS behave as for a signed-in request.
create or replace function tests.authenticate_as(p_identifier text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  claims jsonb := tests._user_claims(p_identifier);
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
  perform pg_catalog.set_config('request.jwt.claim', '', true);
  perform pg_catalog.set_config('request.jwt.claim.sub', '', true);
  perform pg_catalog.set_config('request.jwt.claim.role', '', true);
  perform pg_catalog.set_config('request.jwt.claim.email', '', true);
end
$$;
grant execute on function tests.clear_authentication() to anon, authenticated, service_role;


-- =============================================================================================
-- The test's clock
-- =============================================================================================
--
-- What freezing can and cannot reach. Every function, default and trigger in the migrations
-- reads the clock as pg_catalog.now() (their search_path is ''; column defaults are stored
-- bound to pg_catalog.now), and Postgres offers no way to set that clock: it is the time the
-- transaction started, so inside one test file it already stands still. tests.freeze_time
-- therefore freezes only the unqualified `now()` that the test's own SQL resolves through the
-- session's search_path: fixture values and expected values written in the .test.sql file, SQL
-- strings that pgTAP runs for it (throws_ok, results_eq, …), and functions the test itself
-- creates without a pinned search_path. It does not change pg_catalog.now(), current_timestamp,
-- clock_timestamp(), column defaults, or anything the code under test computes.
-- helpers_behave_as_documented.test.sql asserts both halves. To make the code under test see
-- "later", move the rows' timestamps back (`update … set lease_expires_at = now() - …`), as the
-- queue tests do.

-- The frozen instant while tests.freeze_time is in effect, else the transaction clock. On the
-- search_path ahead of pg_catalog only while frozen, where it shadows unqualified now().
create or replace function tests.now()
returns timestamptz
language sql
stable
set search_path = ''
as $$
  select coalesce(nullif(pg_catalog.current_setting('tests.frozen_now', true), '')::timestamptz,
                  pg_catalog.now())
$$;
grant execute on function tests.now() to anon, authenticated, service_role;

-- Makes the test's unqualified now() return p_at until tests.unfreeze_time() or the end of the
-- transaction (see the section header for what that does and does not reach). Puts schema
-- `tests` ahead of pg_catalog on the search_path, so while frozen an unqualified CREATE lands in
-- `tests` (qualify what a test creates). Freezing again moves the frozen instant.
-- No `set search_path` clause: the clause would restore the caller's search_path on return and
-- undo the change this function exists to make. Every name inside is qualified instead.
create or replace function tests.freeze_time(p_at timestamptz)
returns void
language plpgsql
volatile
as $$
declare
  caller_path text := pg_catalog.current_setting('search_path');
begin
  if p_at is null or not pg_catalog.isfinite(p_at) then
    raise exception 'p_at must be a finite timestamptz' using errcode = '22023';
  end if;
  if coalesce(pg_catalog.current_setting('tests.frozen_now', true), '') = '' then
    perform pg_catalog.set_config('tests.search_path_before_freeze', caller_path, true);
    perform pg_catalog.set_config(
      'search_path',
      'tests, pg_catalog' || case when caller_path <> '' then ', ' || caller_path else '' end,
      true);
  end if;
  -- ISO 8601 in UTC, so it reads back as the same instant whatever TimeZone or DateStyle the
  -- test sets afterwards.
  perform pg_catalog.set_config(
    'tests.frozen_now',
    pg_catalog.to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    true);
end
$$;
grant execute on function tests.freeze_time(timestamptz) to anon, authenticated, service_role;

-- Undoes tests.freeze_time: the search_path it found, and now() is the transaction clock again.
-- A no-op when time is not frozen. No `set search_path` clause, as for freeze_time.
create or replace function tests.unfreeze_time()
returns void
language plpgsql
volatile
as $$
begin
  if coalesce(pg_catalog.current_setting('tests.frozen_now', true), '') <> '' then
    perform pg_catalog.set_config(
      'search_path', pg_catalog.current_setting('tests.search_path_before_freeze'), true);
  end if;
  perform pg_catalog.set_config('tests.search_path_before_freeze', '', true);
  perform pg_catalog.set_config('tests.frozen_now', '', true);
end
$$;
grant execute on function tests.unfreeze_time() to anon, authenticated, service_role;


-- =============================================================================================
-- Assertions
-- =============================================================================================

-- pgTAP assertion: every table (and partition) in `p_schema_name` has row level security
-- enabled. On failure a diagnostic lists the offenders. A schema that does not exist fails, so
-- a misspelt name cannot pass with nothing checked. search_path is pinned to `extensions`
-- rather than '' because pgTAP's own functions resolve their internals through it.
create or replace function tests.rls_enabled(p_schema_name text)
returns text
language plpgsql
volatile
set search_path = extensions, pg_temp
as $$
declare
  offenders text;
  description constant text := pg_catalog.format(
    'every table in schema %s has row level security enabled', p_schema_name);
begin
  if not exists (select 1 from pg_catalog.pg_namespace n where n.nspname = p_schema_name) then
    return extensions.ok(false, description) || E'\n'
      || extensions.diag(pg_catalog.format('schema %s does not exist', p_schema_name));
  end if;

  select pg_catalog.string_agg(pg_catalog.format('%I.%I', n.nspname, c.relname), ', '
                               order by c.relname)
    into offenders
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname = p_schema_name
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


-- =============================================================================================
-- Twins: SQL written twice on purpose must stay the same
-- =============================================================================================
--
-- The per-queue functions (lease_events / lease_discovery, …) are static copies of each other
-- so each keeps its own cached plan. tests.twins_agree compares two such texts after
-- normalising both (comments dropped, whitespace collapsed) and applying each side's explicit
-- substitutions (table names, the events-only topic predicates, …), so a fix made to one copy
-- and not the other fails a test. A substitution that finds nothing also fails: a change inside
-- a documented difference must be looked at on both sides too.

-- SQL text with `--` comments removed and whitespace collapsed (none just inside parentheses),
-- so layout and comments never count as a difference. Not trimmed: a substitution such as
-- 'p_topic text, ' keeps its edges. (A `--` inside a string literal would be cut too; the
-- compared functions have none.)
create or replace function tests.sql_normalized(p_source text)
returns text
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.regexp_replace(pg_catalog.regexp_replace(
           pg_catalog.regexp_replace(p_source, '--[^\n]*', '', 'g'),
           '\s+', ' ', 'g'),
         '(\() | (\))', '\1\2', 'g')
$$;
grant execute on function tests.sql_normalized(text) to anon, authenticated, service_role;

-- A function's full definition (header and body) as pg_get_functiondef prints it under an empty
-- search_path, so the header's type names are schema-qualified like the bodies' names.
create or replace function tests.function_source(p_function regprocedure)
returns text
language sql
stable
set search_path = ''
as $$
  select pg_catalog.pg_get_functiondef(p_function)
$$;
grant execute on function tests.function_source(regprocedure) to anon, authenticated, service_role;

-- The normalised text strictly between the first `p_after` and the next `p_before` in
-- `p_source` (both normalised too): one branch of a function that handles each queue in its own
-- branch. Null when either marker is missing.
create or replace function tests.sql_between(p_source text, p_after text, p_before text)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  source text := tests.sql_normalized(p_source);
  after_text text := pg_catalog.btrim(tests.sql_normalized(p_after));
  rest text;
  stop integer;
begin
  if pg_catalog.strpos(source, after_text) = 0 then
    return null;
  end if;
  rest := pg_catalog.substr(source, pg_catalog.strpos(source, after_text)
                                    + pg_catalog.length(after_text));
  stop := pg_catalog.strpos(rest, pg_catalog.btrim(tests.sql_normalized(p_before)));
  if stop = 0 then
    return null;
  end if;
  return pg_catalog.btrim(pg_catalog.left(rest, stop - 1));
end
$$;
grant execute on function tests.sql_between(text, text, text) to anon, authenticated, service_role;

-- pgTAP assertion: `p_first` and `p_second` are the same SQL once normalised and once each has
-- had its substitutions applied. p_first_subs / p_second_subs are arrays of [from, to] pairs
-- ('{}' for none), applied in order to every occurrence; each `from` is normalised like the
-- text, so it may be written across lines. On failure a diagnostic names the substitution that
-- found nothing, or shows both texts around their first difference.
create or replace function tests.twins_agree(
  p_first text,
  p_first_subs text[],
  p_second text,
  p_second_subs text[],
  p_description text
)
returns text
language plpgsql
volatile -- pgTAP's ok() records the result
set search_path = extensions, pg_temp
as $$
declare
  texts text[] := array[pg_catalog.btrim(tests.sql_normalized(p_first)),
                        pg_catalog.btrim(tests.sql_normalized(p_second))];
  subs text[];
  side integer;
  i integer;
  from_text text;
  at integer := 1;
begin
  if p_first is null or p_second is null then
    return extensions.ok(false, p_description) || E'\n'
      || extensions.diag('nothing to compare: a text is null (a function or a marker is missing)');
  end if;

  for side in 1 .. 2 loop
    subs := case side when 1 then p_first_subs else p_second_subs end;
    if coalesce(pg_catalog.cardinality(subs), 0) > 0
       and (pg_catalog.array_ndims(subs) <> 2 or pg_catalog.array_length(subs, 2) <> 2) then
      raise exception 'substitutions must be an array of [from, to] pairs' using errcode = '22023';
    end if;
    for i in 1 .. coalesce(pg_catalog.array_length(subs, 1), 0) loop
      from_text := tests.sql_normalized(subs[i][1]);
      if pg_catalog.strpos(texts[side], from_text) = 0 then
        return extensions.ok(false, p_description) || E'\n'
          || extensions.diag(pg_catalog.format('substitution %s of the %s text found nothing: %s',
                                               i, case side when 1 then 'first' else 'second' end,
                                               from_text));
      end if;
      texts[side] := pg_catalog.replace(texts[side], from_text,
                                        tests.sql_normalized(coalesce(subs[i][2], '')));
    end loop;
  end loop;

  if texts[1] = texts[2] then
    return extensions.ok(true, p_description);
  end if;
  while pg_catalog.substr(texts[1], at, 1) = pg_catalog.substr(texts[2], at, 1) loop
    at := at + 1;
  end loop;
  return extensions.ok(false, p_description) || E'\n'
    || extensions.diag(pg_catalog.format(
         E'first difference at character %s of the normalised texts:\n'
         || E'    first:  …%s…\n    second: …%s…',
         at, pg_catalog.substr(texts[1], greatest(at - 60, 1), 120),
         pg_catalog.substr(texts[2], greatest(at - 60, 1), 120)));
end
$$;
grant execute on function tests.twins_agree(text, text[], text, text[], text)
  to anon, authenticated, service_role;
