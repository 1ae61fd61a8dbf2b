-- Security baseline for the whole schema: RLS everywhere, nothing granted to anon that is not
-- on a written allowlist, and the auth.* claim accessors behaving as on Supabase.
begin;
select plan(26);

-- ---------------------------------------------------------------------------------------------
-- RLS coverage (grows with the schema: every new table must enable RLS)
-- ---------------------------------------------------------------------------------------------
select tests.rls_enabled('public');
select tests.rls_enabled('ops');
select tests.rls_enabled('metrics');

-- ---------------------------------------------------------------------------------------------
-- anon privileges: deny by default, allow only what is written here
-- ---------------------------------------------------------------------------------------------
-- ALLOWLIST of "<schema>.<relation>:<PRIVILEGE>" anon may hold in public/ops. Empty on purpose:
-- an issue that exposes a table or view to anon adds its exact entries here, in the same change.
create temp table anon_relation_allowlist (entry text primary key) on commit drop;
insert into anon_relation_allowlist (entry)
select unnest('{}'::text[]);

-- ALLOWLIST of public functions anon may execute, as "public.<name>(<argument types>)".
-- Extend it the same way.
create temp table anon_function_allowlist (entry text primary key) on commit drop;
insert into anon_function_allowlist (entry)
values ('public.health_check()');

select is(
  array(
    select format('%I.%I:%s', n.nspname, c.relname, p.privilege)
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                            'TRIGGER']) as p(privilege)
    where n.nspname in ('public', 'ops')
      and c.relkind in ('r', 'p', 'v', 'm', 'f')
      and case
            -- column-level grants count too
            when p.privilege in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
              then has_any_column_privilege('anon', c.oid, p.privilege)
            else has_table_privilege('anon', c.oid, p.privilege)
          end
    except
    select entry from anon_relation_allowlist
    order by 1
  ),
  '{}'::text[],
  'anon holds no table or view privilege in public or ops beyond the allowlist'
);

select is(
  array(
    select format('%I.%I:%s', n.nspname, c.relname, p.privilege)
    from pg_class c
    join pg_namespace n on n.oid = c.relnamespace
    cross join unnest(array['USAGE', 'SELECT', 'UPDATE']) as p(privilege)
    where n.nspname in ('public', 'ops')
      and c.relkind = 'S'
      and has_sequence_privilege('anon', c.oid, p.privilege)
    except
    select entry from anon_relation_allowlist
    order by 1
  ),
  '{}'::text[],
  'anon holds no sequence privilege in public or ops beyond the allowlist'
);

select is(
  array(
    select format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))
    from pg_proc p
    join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public'
      and has_function_privilege('anon', p.oid, 'EXECUTE')
      -- functions an extension installed into public are the extension's business
      and not exists (
        select 1 from pg_depend d
        where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
      )
    except
    select entry from anon_function_allowlist
    order by 1
  ),
  '{}'::text[],
  'anon may execute no public function beyond the allowlist'
);

select ok(
  not has_schema_privilege('anon', 'ops', 'USAGE')
    and not has_schema_privilege('authenticated', 'ops', 'USAGE'),
  'anon and authenticated cannot even resolve names in schema ops'
);

-- The CI/CD `metrics` schema is written by service_role only; the client roles cannot see it.
select ok(
  not has_schema_privilege('anon', 'metrics', 'USAGE')
    and not has_schema_privilege('authenticated', 'metrics', 'USAGE'),
  'anon and authenticated cannot even resolve names in schema metrics'
);

select ok(
  not has_table_privilege('anon', 'auth.users', 'SELECT')
    and not has_table_privilege('authenticated', 'auth.users', 'SELECT')
    and not has_table_privilege('service_role', 'auth.users', 'SELECT'),
  'no API role reads auth.users directly'
);

-- ---------------------------------------------------------------------------------------------
-- auth.* accessors are callable by every API role
-- ---------------------------------------------------------------------------------------------
select ok(has_function_privilege('anon', 'auth.uid()', 'EXECUTE'),
          'anon may execute auth.uid()');
select ok(has_function_privilege('authenticated', 'auth.uid()', 'EXECUTE'),
          'authenticated may execute auth.uid()');
select ok(has_function_privilege('service_role', 'auth.uid()', 'EXECUTE'),
          'service_role may execute auth.uid()');

-- ---------------------------------------------------------------------------------------------
-- auth.uid() / auth.role() / auth.email() under the test helpers
-- ---------------------------------------------------------------------------------------------
select from tests.create_supabase_user('alice');
select from tests.create_supabase_user('bob', 'bob@example.org', '{"display_name": "Bob"}');

select tests.authenticate_as('alice');
select is(auth.uid(), tests.get_supabase_uid('alice'), 'authenticate_as(alice) makes auth.uid() alice');
select is(auth.role(), 'authenticated', 'a signed-in user has auth.role() authenticated');
select is(auth.email(), 'alice@example.test', 'auth.email() is the signed-in user''s email');
select is(current_user::text, 'authenticated', 'a signed-in user runs as the authenticated role');

select tests.authenticate_as('bob');
select is(auth.uid(), tests.get_supabase_uid('bob'), 'authenticate_as(bob) switches auth.uid() to bob');
select isnt(auth.uid(), tests.get_supabase_uid('alice'), 'after switching, auth.uid() is no longer alice');
select is(auth.jwt() -> 'user_metadata' ->> 'display_name', 'Bob',
          'auth.jwt() carries the user''s metadata');

select tests.authenticate_as_service_role();
select is(auth.role(), 'service_role', 'authenticate_as_service_role makes auth.role() service_role');
select ok(auth.uid() is null, 'the service role has no auth.uid()');
select is(current_user::text, 'service_role', 'authenticate_as_service_role runs as service_role');

select tests.clear_authentication();
select ok(auth.uid() is null and auth.role() is null,
          'clear_authentication leaves no uid and no role claim');
select is(current_user::text, session_user::text,
          'clear_authentication returns to the session user');

-- Older PostgREST set one setting per claim; Supabase's auth.uid() still honours it.
select from set_config('request.jwt.claim.sub', tests.get_supabase_uid('alice')::text, true);
select is(auth.uid(), tests.get_supabase_uid('alice'),
          'auth.uid() falls back to the legacy request.jwt.claim.sub setting');
select tests.clear_authentication();

select throws_ok(
  $$ select tests.get_supabase_uid('nobody') $$,
  'P0002',
  'test user "nobody" does not exist',
  'get_supabase_uid refuses an unknown identifier'
);

select * from finish();
rollback;
