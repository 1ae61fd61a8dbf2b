-- The pgTAP helpers in tests_schema.sql do what their comments say: every other test trusts
-- them, so a helper that quietly passes, acts as the wrong role or misses the clock would make
-- those tests prove nothing. Assertion helpers are checked with pgTAP's check_test, passing and
-- failing.
begin;
select plan(63);

-- =============================================================================================
-- Users
-- =============================================================================================

select isa_ok(tests.create_supabase_user('helper_alice'), 'uuid',
              'create_supabase_user returns the new user''s id');
select is(tests.get_supabase_uid('helper_alice'),
          (select id from auth.users where email = 'helper_alice@example.test'),
          'get_supabase_uid finds it; the email defaults to <identifier>@example.test');
select ok((select email_confirmed_at is not null and role = 'authenticated'
             from auth.users where id = tests.get_supabase_uid('helper_alice')),
          'the user is confirmed, as a signed-up user would be');

select lives_ok($$ select tests.create_supabase_user('helper_bob', 'bob@example.test',
                                                     '{"name": "Bob"}') $$,
                'create_supabase_user takes an email and metadata');
select is((select row(email, raw_user_meta_data)::text from auth.users
            where id = tests.get_supabase_uid('helper_bob')),
          row('bob@example.test', '{"name": "Bob", "test_identifier": "helper_bob"}'::jsonb)::text,
          'and keeps them beside the identifier');

select throws_ok($$ select tests.create_supabase_user('helper_alice') $$, '23505',
                 'test user "helper_alice" already exists',
                 'an identifier names one user');
select throws_ok($$ select tests.get_supabase_uid('helper_nobody') $$, 'P0002',
                 'test user "helper_nobody" does not exist',
                 'an unknown identifier raises instead of meaning nobody');

-- =============================================================================================
-- Acting as someone
-- =============================================================================================

-- A table whose policy admits the signed-in user's own rows, to see RLS act on the claims.
create schema helper_rls;
create table helper_rls.owned (owner uuid, note text);
alter table helper_rls.owned enable row level security;
create policy owned_by_reader on helper_rls.owned for select to authenticated
  using (owner = auth.uid());
grant usage on schema helper_rls to authenticated;
grant select on helper_rls.owned to authenticated;
insert into helper_rls.owned values (tests.get_supabase_uid('helper_alice'), 'alice''s'),
                                    (tests.get_supabase_uid('helper_bob'), 'bob''s');

select tests.authenticate_as('helper_alice');
select is(current_user::text, 'authenticated', 'authenticate_as switches to role authenticated');
select is(auth.uid(), tests.get_supabase_uid('helper_alice'), 'with the user''s id as auth.uid()');
select is((select row(auth.role(), auth.email(), auth.jwt() ->> 'aud')::text),
          row('authenticated', 'helper_alice@example.test', 'authenticated')::text,
          'and the claims Supabase Auth would issue');
select results_eq($$ select note from helper_rls.owned $$, $$ values ('alice''s') $$,
                  'RLS applies as for a signed-in request: only the user''s own rows');
select lives_ok($$ select tests.create_supabase_user('helper_carol') $$,
                'the user helpers still work from an API role');

select tests.authenticate_as('helper_bob');
select results_eq($$ select note from helper_rls.owned $$, $$ values ('bob''s') $$,
                  'authenticating as another user replaces the claims');
select throws_ok($$ select tests.authenticate_as('helper_nobody') $$, 'P0002',
                 'test user "helper_nobody" does not exist',
                 'authenticate_as an unknown identifier raises');

select tests.authenticate_as_service_role();
select is((select row(current_user::text, auth.role(), auth.uid())::text),
          row('service_role', 'service_role', null::uuid)::text,
          'authenticate_as_service_role: role service_role, no user');

select tests.authenticate_as_anon();
select is((select row(current_user::text, auth.role(), auth.uid())::text),
          row('anon', 'anon', null::uuid)::text,
          'authenticate_as_anon: role anon, no user');
select throws_ok($$ select count(*) from public.feature_flags $$, '42501', null,
                 'and holds only what anon is granted');

select set_config('request.jwt.claim.sub', tests.get_supabase_uid('helper_bob')::text, true);
select set_config('request.jwt.claim', '{"role": "anon"}', true);
select tests.clear_authentication();
select is(current_user::text, session_user::text,
          'clear_authentication returns to the session user');
select is((select row(auth.uid(), auth.role(), auth.email(), auth.jwt())::text),
          row(null::uuid, null::text, null::text, null::jsonb)::text,
          'with no claims at all, legacy per-claim settings included');

-- =============================================================================================
-- rls_enabled (check_test: it is itself an assertion)
-- =============================================================================================

select * from check_test(
  tests.rls_enabled('helper_rls'), true,
  'rls_enabled on a schema whose tables all have RLS (helper_rls.owned)',
  'every table in schema helper_rls has row level security enabled', '');

create table helper_rls.open_b (id int);
create table helper_rls.open_a (id int);
create table helper_rls.parted (id int) partition by range (id);
alter table helper_rls.parted enable row level security;
create table helper_rls.parted_low partition of helper_rls.parted for values from (0) to (10);

select * from check_test(
  tests.rls_enabled('helper_rls'), false,
  'rls_enabled with tables and a partition lacking RLS',
  'every table in schema helper_rls has row level security enabled',
  'tables without row level security: helper_rls.open_a, helper_rls.open_b, helper_rls.parted_low');

select * from check_test(
  tests.rls_enabled('helper_no_such_schema'), false,
  'rls_enabled on a schema that does not exist',
  'every table in schema helper_no_such_schema has row level security enabled',
  'schema helper_no_such_schema does not exist');

-- =============================================================================================
-- The clock: freeze_time reaches the test's own now(), and only that
-- =============================================================================================

create temp table clock_before as select current_setting('search_path') as search_path;
create function helper_rls.test_clock() returns timestamptz language sql stable
  as $$ select now() $$;

select is(now(), pg_catalog.now(), 'unfrozen, now() is the transaction clock');

select tests.freeze_time('2001-02-03 04:05:06.5+00');
select is(now(), '2001-02-03 04:05:06.5+00'::timestamptz, 'freeze_time fixes the test''s now()');
select is(current_setting('search_path'),
          'tests, pg_catalog, ' || (select search_path from clock_before),
          'by putting schema tests ahead of pg_catalog on the search_path');
select results_eq($$ select now() $$, $$ values ('2001-02-03 04:05:06.5+00'::timestamptz) $$,
                  'SQL that pgTAP runs for the test sees the frozen clock');
select is(helper_rls.test_clock(), '2001-02-03 04:05:06.5+00'::timestamptz,
          'as does a function the test defines without a pinned search_path');
set local timezone = 'Asia/Tokyo';
select is(now(), '2001-02-03 04:05:06.5+00'::timestamptz,
          'the frozen instant does not move with the session time zone');
reset timezone;

select isnt(pg_catalog.now(), now(), 'pg_catalog.now() is not frozen');
select is(current_timestamp, pg_catalog.now(), 'nor is current_timestamp');
create temp table clock_job as select public.enqueue_event('t.helper-clock', '{}') as id;
select is((select q.run_at from public.events_queue q join clock_job j on j.id = q.id),
          pg_catalog.now(),
          'nor what the code under test reads: enqueue_event''s default run_at is the real clock');
select is((select q.created_at from public.events_queue q join clock_job j on j.id = q.id),
          pg_catalog.now(), 'nor a column default');

select tests.authenticate_as('helper_alice');
select is(now(), '2001-02-03 04:05:06.5+00'::timestamptz, 'still frozen after switching role');
select tests.clear_authentication();

select tests.freeze_time('2011-12-13 14:15:16+00');
select is(now(), '2011-12-13 14:15:16+00'::timestamptz, 'freezing again moves the frozen instant');
select is(current_setting('search_path'),
          'tests, pg_catalog, ' || (select search_path from clock_before),
          'without stacking the search_path');

select tests.unfreeze_time();
select is(now(), pg_catalog.now(), 'unfreeze_time gives back the transaction clock');
select is(current_setting('search_path'), (select search_path from clock_before),
          'and the search_path it found');
select tests.unfreeze_time();
select is(current_setting('search_path'), (select search_path from clock_before),
          'unfreezing when not frozen changes nothing');

select throws_ok($$ select tests.freeze_time(null) $$, '22023',
                 'p_at must be a finite timestamptz', 'freeze_time refuses null');
select throws_ok($$ select tests.freeze_time('infinity') $$, '22023',
                 'p_at must be a finite timestamptz', 'and infinity');

-- =============================================================================================
-- twins_agree and sql_between (check_test: twins_agree is an assertion)
-- =============================================================================================

select * from check_test(
  tests.twins_agree(E'select a -- one\n  from t', '{}', 'select a from   t', '{}', 'layout'),
  true, 'twins_agree ignores comments and layout', 'layout', '');

select * from check_test(
  tests.twins_agree('select a from t1 where a > 1', array[['t1', '<t>'], ['a > 1', '<p>']],
                    'select a from t2 where a < 9', array[['t2', '<t>'], ['a < 9', '<p>']],
                    'substituted'),
  true, 'twins_agree applies each side''s substitutions', 'substituted', '');

select * from check_test(
  tests.twins_agree('select a from t', '{}', 'select b from t', '{}', 'drift'),
  false, 'twins_agree reports where two texts part', 'drift',
  E'first difference at character 8 of the normalised texts:\n'
  || E'    first:  …select a from t…\n    second: …select b from t…');

select * from check_test(
  tests.twins_agree('select a from t', array[['t9', '<t>']], 'select a from t', '{}', 'stale'),
  false, 'twins_agree fails when a substitution finds nothing', 'stale',
  'substitution 1 of the first text found nothing: t9');

select * from check_test(
  tests.twins_agree(null, '{}', 'select 1', '{}', 'missing'),
  false, 'twins_agree fails when there is nothing to compare', 'missing',
  'nothing to compare: a text is null (a function or a marker is missing)');

select is(tests.sql_between(E'if x then\n  a;  -- note\nelsif y then b; end if;', 'if x then',
                            'elsif'),
          'a;', 'sql_between returns the normalised text between two markers');
select is(tests.sql_between('if x then a; end if;', 'if z then', 'end if'), null,
          'and null when a marker is missing');

select * from finish();
rollback;
