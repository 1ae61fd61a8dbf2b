-- The auth.users insert trigger queues one 'discovery.user-signup' job per new user, with
-- payload {"user_id": …}, whoever inserts the row; the schedules exist.
begin;
select plan(9);

select has_trigger('auth', 'users', 'discovery_on_auth_user_created',
                   'auth.users has the discovery signup trigger');

select from tests.create_supabase_user('hana');

select results_eq(
  format($$ select topic, payload, status from public.events_queue
            where topic = 'discovery.user-signup' and payload ->> 'user_id' = %L $$,
         tests.get_supabase_uid('hana')),
  format($$ values ('discovery.user-signup'::text, %L::jsonb, 'queued'::text) $$,
         jsonb_build_object('user_id', tests.get_supabase_uid('hana'))),
  'a new user gets one queued discovery.user-signup job carrying the user id'
);
select is(
  (select dedupe_key from public.events_queue
   where topic = 'discovery.user-signup'
     and payload ->> 'user_id' = tests.get_supabase_uid('hana')::text),
  'discovery.user-signup:' || tests.get_supabase_uid('hana')::text,
  'the job is deduplicated by user'
);

-- A second user gets their own job.
select from tests.create_supabase_user('ivan');
select is(
  (select count(*)::int from public.events_queue
   where topic = 'discovery.user-signup'
     and payload ->> 'user_id' in (tests.get_supabase_uid('hana')::text,
                                   tests.get_supabase_uid('ivan')::text)),
  2,
  'each new user gets exactly one job'
);

-- A role without any rights on events_queue (like GoTrue's supabase_auth_admin, which owns
-- auth.users and so is not subject to its RLS) still signs users up:
-- the trigger function is security definer.
create role discovery_test_auth_admin nologin bypassrls;
grant usage on schema auth to discovery_test_auth_admin;
grant insert on auth.users to discovery_test_auth_admin;
set local role discovery_test_auth_admin;
insert into auth.users (id, email, created_at)
values ('0000000a-0000-0000-0000-00000000000a', 'jo@example.test', now());
reset role;
select ok(
  exists (select 1 from public.events_queue
          where topic = 'discovery.user-signup'
            and payload ->> 'user_id' = '0000000a-0000-0000-0000-00000000000a'),
  'an auth admin role without queue rights still queues the job'
);

-- The seeded runbook user was queued when the seed ran.
select ok(
  exists (select 1 from public.events_queue
          where topic = 'discovery.user-signup'
            and payload ->> 'user_id' = '00000000-0000-0000-0000-000000000001'),
  'the seeded test user has its signup job'
);

select ok(
  not has_function_privilege('authenticated', 'ops.discovery_on_auth_user_created()', 'EXECUTE')
    and not has_function_privilege('service_role', 'ops.discovery_on_auth_user_created()',
                                   'EXECUTE'),
  'nobody calls the trigger function directly'
);

-- Schedules (inactive in the test stack; tests run the commands themselves)
select is(
  (select schedule from cron.job where jobname = 'queue-worker:discovery.user-signup'),
  '* * * * *',
  'queue-worker drains discovery.user-signup every minute'
);
select is(
  (select schedule from cron.job where jobname = 'rocker-discovery-run'),
  '*/5 * * * *',
  'rocker-discovery-run runs every 5 minutes'
);

select * from finish();
rollback;
