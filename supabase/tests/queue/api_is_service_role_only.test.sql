-- The queue's tables, views and functions: service_role only. anon and authenticated can
-- neither read the queues nor call any of their functions; RLS is on for both tables.
begin;
select plan(37);

-- ---------------------------------------------------------------------------------------------
-- Tables and views
-- ---------------------------------------------------------------------------------------------
select has_table('public', 'events_queue', 'public.events_queue exists');
select has_table('public', 'marketplace_discovery_queue', 'public.marketplace_discovery_queue exists');
select ok((select relrowsecurity from pg_class where oid = 'public.events_queue'::regclass),
          'RLS is on for events_queue');
select ok((select relrowsecurity from pg_class
           where oid = 'public.marketplace_discovery_queue'::regclass),
          'RLS is on for marketplace_discovery_queue');

select ok(not has_any_column_privilege(r, t, p), format('%s has no %s on %s', r, p, t))
from unnest(array['anon', 'authenticated']) as r,
     unnest(array['public.events_queue', 'public.marketplace_discovery_queue',
                  'public.vw_events_queue_health', 'public.vw_discovery_queue_health',
                  'public.vw_dead_letter_queue']) as t,
     unnest(array['SELECT', 'INSERT', 'UPDATE']) as p
where p = 'SELECT' or t not like 'public.vw_%';

select ok(has_table_privilege('service_role', t, 'SELECT'), format('service_role reads %s', t))
from unnest(array['public.events_queue', 'public.marketplace_discovery_queue',
                  'public.vw_events_queue_health', 'public.vw_discovery_queue_health',
                  'public.vw_dead_letter_queue']) as t;

-- ---------------------------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------------------------
create temp table queue_api (fn text primary key) on commit drop;
insert into queue_api values
  ('public.enqueue_event(text, jsonb, timestamptz, text, integer, integer)'),
  ('public.lease_events(text, integer, integer, text)'),
  ('public.lease_discovery(integer, integer, text)'),
  ('public.ack_events(bigint[], uuid)'),
  ('public.ack_discovery(bigint[], uuid)'),
  ('public.fail_events(bigint[], uuid, text)'),
  ('public.fail_discovery(bigint[], uuid, text)'),
  ('public.release_events(bigint[], uuid)'),
  ('public.release_discovery(bigint[], uuid)'),
  ('public.requeue_expired_leases()');

select ok(
  not exists (select 1 from queue_api
              where has_function_privilege('anon', fn, 'EXECUTE')
                 or has_function_privilege('authenticated', fn, 'EXECUTE')),
  'anon and authenticated may execute none of the queue functions');
select ok(
  not exists (select 1 from queue_api where not has_function_privilege('service_role', fn, 'EXECUTE')),
  'service_role may execute every queue function');
select is(
  (select count(*)::int from queue_api q
     join pg_proc p on p.oid = q.fn::regprocedure
    where p.proconfig @> array['search_path=""']),
  10, 'every queue function pins search_path to empty');
select is(
  (select count(*)::int from queue_api q
     join pg_proc p on p.oid = q.fn::regprocedure
    where p.prosecdef),
  0, 'no queue function is security definer');

-- Scheduling helpers are for postgres (migrations) only: cron jobs run as their scheduler.
select ok(not has_function_privilege(r, f, 'EXECUTE'), format('%s may not execute %s', r, f))
from unnest(array['service_role', 'authenticated']) as r,
     unnest(array['ops.schedule_function(text, text, text, jsonb, integer)',
                  'ops.schedule_queue_topic(text, integer, integer, text)']) as f;

-- Acting as anon, a call is refused outright.
select tests.authenticate_as_anon();
select throws_ok($$ select public.enqueue_event('t', '{}') $$, '42501', null,
                 'anon cannot enqueue');
select throws_ok($$ select * from public.vw_dead_letter_queue $$, '42501', null,
                 'anon cannot read the dead-letter queue');
select tests.clear_authentication();

select * from finish();
rollback;
