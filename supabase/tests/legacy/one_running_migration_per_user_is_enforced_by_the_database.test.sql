-- The run log: ops.begin_user_migration opens a 'running' row, and the partial unique index
-- refuses a second one for the same user (23505 on user_migrations_one_running_per_user, the
-- function's 409) while other users are unaffected; a finished run frees the user; a run left
-- running by a crashed isolate is closed as abandoned; finish writes an outcome once. Only the
-- function's own connection (the owner) may call these.
begin;
select plan(17);

select from tests.create_supabase_user('alice');
select from tests.create_supabase_user('bob');

select has_index('public', 'user_migrations', 'user_migrations_one_running_per_user',
                 'the one-running-row index exists');
select is(
  (select pg_get_indexdef(indexrelid) from pg_index
    where indexrelid = 'public.user_migrations_one_running_per_user'::regclass),
  'CREATE UNIQUE INDEX user_migrations_one_running_per_user ON public.user_migrations '
    'USING btree (user_id) WHERE (status = ''running''::text)',
  'it is unique on user_id over running rows only');

create temp table run (id uuid, last_completed_at timestamptz) on commit drop;
insert into run
select * from ops.begin_user_migration(p_user_id => tests.get_supabase_uid('alice'),
                                       p_dry_run => true);
select results_eq(
  format($$ select status, dry_run, finished_at is null from public.user_migrations
             where id = %L $$, (select id from run)),
  $$ values ('running'::text, true, true) $$,
  'begin opens a running dry-run row');
select is((select last_completed_at from run), null, 'alice has never completed a real run');

select throws_ok(
  format($$ select ops.begin_user_migration(p_user_id => %L, p_dry_run => false) $$,
         tests.get_supabase_uid('alice')),
  '23505',
  'duplicate key value violates unique constraint "user_migrations_one_running_per_user"',
  'a second run for the same user is refused by the unique index');
select throws_ok(
  format($$ insert into public.user_migrations (user_id) values (%L) $$,
         tests.get_supabase_uid('alice')),
  '23505', null,
  'the database refuses it whoever inserts it');
select lives_ok(
  format($$ select ops.begin_user_migration(p_user_id => %L, p_dry_run => false) $$,
         tests.get_supabase_uid('bob')),
  'another user can run at the same time');

select lives_ok(
  format($$ select ops.finish_user_migration(p_migration_id => %L, p_status => 'failed',
              p_message => 'Dry run complete', p_counts => '{"items": 3}',
              p_phase_ms => '{"preflight": 4}') $$, (select id from run)),
  'finish closes the run');
select results_eq(
  format($$ select status, message, counts, phase_ms, finished_at is not null
              from public.user_migrations where id = %L $$, (select id from run)),
  $$ values ('failed'::text, 'Dry run complete'::text, '{"items": 3}'::jsonb,
             '{"preflight": 4}'::jsonb, true) $$,
  'the outcome, counts and phase durations are recorded');
select throws_ok(
  format($$ select ops.finish_user_migration(p_migration_id => %L, p_status => 'completed',
              p_message => 'again', p_counts => '{}', p_phase_ms => '{}') $$,
         (select id from run)),
  'P0002', format('migration %s is not running', (select id from run)),
  'an outcome is written once');
select throws_ok(
  format($$ select ops.finish_user_migration(p_migration_id => %L, p_status => 'running',
              p_message => null, p_counts => '{}', p_phase_ms => '{}') $$,
         (select id from run)),
  '22023', 'p_status must be completed or failed',
  'finish only accepts an outcome');

-- A completed real run is reported to the next one.
delete from run;
insert into run
select * from ops.begin_user_migration(p_user_id => tests.get_supabase_uid('alice'),
                                       p_dry_run => false);
select ops.finish_user_migration(p_migration_id => (select id from run), p_status => 'completed',
                                 p_message => 'Migration complete', p_counts => '{}',
                                 p_phase_ms => '{}');
select isnt(
  (select last_completed_at
     from ops.begin_user_migration(p_user_id => tests.get_supabase_uid('alice'),
                                   p_dry_run => false)),
  null,
  'after a completed run, begin reports when it completed');

-- bob's run has been running for 20 minutes: no edge function lives that long.
update public.user_migrations set started_at = now() - interval '20 minutes'
 where user_id = tests.get_supabase_uid('bob') and status = 'running';
select lives_ok(
  format($$ select ops.begin_user_migration(p_user_id => %L, p_dry_run => false) $$,
         tests.get_supabase_uid('bob')),
  'a run abandoned by a crashed isolate does not lock its user out');
select results_eq(
  format($$ select status, message from public.user_migrations
             where user_id = %L order by started_at $$, tests.get_supabase_uid('bob')),
  $$ values ('failed'::text, 'Abandoned: no result within 15 minutes'::text),
            ('running'::text, null::text) $$,
  'the abandoned run is closed as failed, saying why');

select throws_ok(
  $$ select ops.begin_user_migration(p_user_id => null, p_dry_run => false) $$,
  '22023', 'p_user_id is required',
  'begin names a missing user');

select is(
  array(select format('%s:%s', r, f) from unnest(array['anon', 'authenticated', 'service_role']) r
        cross join unnest(array['ops.begin_user_migration(uuid,boolean)',
                                'ops.finish_user_migration(uuid,text,text,jsonb,jsonb)']) f
        where has_function_privilege(r, f, 'EXECUTE')),
  '{}'::text[],
  'no API role may open or close a run: only the function''s own connection');

select tests.authenticate_as('alice');
select throws_ok(
  $$ select ops.begin_user_migration(p_user_id => auth.uid(), p_dry_run => false) $$,
  '42501', 'permission denied for schema ops',
  'a signed-in user cannot open a run through the API');

select * from finish();
rollback;
