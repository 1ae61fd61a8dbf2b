-- lease_events / lease_discovery: what is claimable, in what order, how many, and what a lease
-- writes; expired leases are claimable; arguments outside the limits are refused.
begin;
select plan(24);

-- Arrange as postgres (it owns the tables), then act as the worker role.
insert into public.events_queue (topic, payload, priority, run_at) values
  ('t.lease', '{"n": 1}', 0, now() - interval '3 min'),
  ('t.lease', '{"n": 2}', 0, now() - interval '5 min'),   -- older run_at: before n=1
  ('t.lease', '{"n": 3}', -1, now()),                     -- lower priority value: first
  ('t.lease', '{"n": 4}', 0, now() + interval '1 min'),   -- not runnable yet
  ('t.lease', '{"n": 5}', 0, now() - interval '3 min'),   -- same run_at as n=1: id decides
  ('t.elsewhere', '{"n": 6}', -9, now() - interval '1 hour');
insert into public.events_queue (topic, payload, status, attempts) values
  ('t.lease', '{"n": 7}', 'done', 1),
  ('t.lease', '{"n": 8}', 'error', 5);

select tests.authenticate_as_service_role();
create temp table got on commit drop as
  select * from public.lease_events(p_topic => 't.lease', p_limit => 2, p_ttl_seconds => 30,
                                    p_worker => 'w1');
select is((select array_agg((payload ->> 'n')::int order by priority, run_at, id) from got),
          array[3, 2], 'the lease takes the first rows by priority, then run_at');
select is((select count(distinct lease_token)::int from got), 1, 'one lease token per call');
select ok((select bool_and(status = 'processing' and attempts = 1 and leased_by = 'w1'
                           and lease_expires_at = now() + interval '30 seconds') from got),
          'claimed rows are processing, attempt 1, leased by w1 for the ttl');
select is((select array_agg((payload ->> 'n')::int) from public.lease_events('t.lease', 10, 30)),
          array[1, 5], 'the next lease takes the rest in order (ties broken by id), nothing else');
select is((select count(*)::int from public.lease_events('t.lease', 10, 30)), 0,
          'nothing runnable is left: future, done and error rows are never claimed');
select is((select status from public.events_queue where payload ->> 'n' = '6'), 'queued',
          'another topic''s job is untouched');

-- An expired lease is claimable again, under a new token, and counts an attempt.
reset role;
update public.events_queue set lease_expires_at = now() - interval '1 second'
 where payload ->> 'n' = '3';
select tests.authenticate_as_service_role();
create temp table again on commit drop as select * from public.lease_events('t.lease', 10, 30);
select is((select array_agg((payload ->> 'n')::int) from again), array[3],
          'an expired lease is claimed again');
select isnt((select lease_token from again), (select lease_token from got limit 1),
            'under a fresh token');
select is((select attempts from again), 2, 'and the re-lease counts as an attempt');

-- An expired row on its final attempt is dead-lettered by the lease instead of handed out.
reset role;
update public.events_queue set lease_expires_at = now() - interval '1 second',
                               attempts = max_attempts
 where payload ->> 'n' = '2';
select tests.authenticate_as_service_role();
select is((select count(*)::int from public.lease_events('t.lease', 10, 30)), 0,
          'an expired lease on its last attempt is not handed out again');
select is((select row(status, lease_token, last_error)::text from public.events_queue
            where payload ->> 'n' = '2'),
          row('error', null::uuid, 'lease expired on the final attempt (worker lost)')::text,
          'it is dead-lettered with the reason');

-- Limits.
select throws_ok($$ select * from public.lease_events('t.lease', 0, 30) $$, '22023',
                 'p_limit must be between 1 and 1000', 'limit 0 is refused');
select throws_ok($$ select * from public.lease_events('t.lease', 1001, 30) $$, '22023',
                 'p_limit must be between 1 and 1000', 'limit 1001 is refused');
select throws_ok($$ select * from public.lease_events('t.lease', 1, 0) $$, '22023',
                 'p_ttl_seconds must be between 1 and 3600', 'ttl 0 is refused');
select throws_ok($$ select * from public.lease_events('t.lease', 1, 3601) $$, '22023',
                 'p_ttl_seconds must be between 1 and 3600', 'ttl 3601 is refused');
select lives_ok($$ select * from public.lease_events('t.lease', 1000, 3600) $$,
                'limit 1000 and ttl 3600 are accepted');

-- The discovery queue behaves the same.
reset role;
select tests.create_supabase_user('lease_user');
insert into public.marketplace_discovery_queue (interest_id, user_id, priority, run_at)
select gen_random_uuid(), tests.get_supabase_uid('lease_user'), p, now() - make_interval(mins => m)
from (values (0, 1), (0, 2), (-1, 0), (0, 0)) as v(p, m);
insert into public.marketplace_discovery_queue (interest_id, user_id, run_at)
values (gen_random_uuid(), tests.get_supabase_uid('lease_user'), now() + interval '1 hour');
select tests.authenticate_as_service_role();
create temp table disc on commit drop as
  select * from public.lease_discovery(p_limit => 3, p_ttl_seconds => 60, p_worker => 'd1');
select is((select count(*)::int from disc), 3, 'lease_discovery honours the limit');
select is((select array_agg(priority order by priority, run_at, id) from disc), array[-1, 0, 0],
          'lease_discovery claims by priority first');
select ok((select min(run_at) from disc where priority = 0) = now() - interval '2 minutes',
          'then by run_at');
select ok((select bool_and(status = 'processing' and attempts = 1 and leased_by = 'd1') from disc),
          'claimed discovery items are processing, attempt 1, leased by d1');
select is((select count(*)::int from public.lease_discovery(10, 60)), 1,
          'the next discovery lease takes the last runnable item only');
select is((select count(*)::int from public.lease_discovery(10, 60)), 0,
          'a future item is not claimed');
select throws_ok($$ select * from public.lease_discovery(0, 60) $$, '22023',
                 'p_limit must be between 1 and 1000', 'lease_discovery checks its limit');
select is(public.ack_discovery((select array_agg(id) from disc),
                               (select lease_token from disc limit 1)), 3,
          'ack_discovery acks the lease''s items');

select * from finish();
rollback;
