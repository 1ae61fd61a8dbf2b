-- Failure: capped exponential backoff with jitter between attempts, the dead-letter queue at
-- max_attempts, and requeue_expired_leases for both queues.
begin;
select plan(16);

-- ---------------------------------------------------------------------------------------------
-- ops.queue_backoff bounds: attempt n waits within [e/2, e], e = least(3600 s, 10 s * 2^(n-1))
-- ---------------------------------------------------------------------------------------------
create temp table samples on commit drop as
select n, extract(epoch from ops.queue_backoff(n)) as secs
from generate_series(1, 20) n, generate_series(1, 200) s;

select is(
  (select count(*)::int from samples
    where secs < least(3600, 10 * 2 ^ (n - 1)) / 2 or secs > least(3600, 10 * 2 ^ (n - 1))),
  0, 'every backoff lies within [e/2, e] of its capped exponential e');
select ok((select max(secs) <= 3600 from samples), 'no backoff exceeds the one-hour cap');
select ok((select min(secs) >= 5 from samples where n = 1), 'the first retry waits at least 5 s');
select ok((select max(secs) > 1800 and min(secs) < 3600 from samples where n = 20),
          'capped attempts still jitter below the cap');
select ok((select count(distinct round(secs::numeric, 3)) > 100 from samples where n = 3),
          'the delay is jittered, not fixed');
select ok((select avg(secs) from samples where n = 4) > 2 * (select avg(secs) from samples where n = 2),
          'the delay grows exponentially with the attempt');

-- ---------------------------------------------------------------------------------------------
-- fail → retry with backoff → … → dead letter
-- ---------------------------------------------------------------------------------------------
insert into public.events_queue (topic, payload, max_attempts) values ('t.poison', '{"p": 1}', 3);

create temp table attempts_seen (attempt int, changed int, status text, delay interval)
  on commit drop;
grant all on attempts_seen to service_role;

-- Three lease/fail rounds; between them the test pulls run_at back to now() instead of waiting.
do $$
declare
  r record;
  i int;
begin
  for i in 1..3 loop
    perform tests.authenticate_as_service_role();
    select * into r from public.lease_events('t.poison', 1, 30);
    insert into attempts_seen
    select r.attempts, public.fail_events(array[r.id], r.lease_token, 'boom #' || i), q.status,
           q.run_at - now()
      from public.events_queue q where q.id = r.id;
    perform tests.clear_authentication();
    update public.events_queue set run_at = now() where id = r.id and status = 'queued';
  end loop;
end
$$;

-- attempts_seen captured the row before the fail; read the rows' state now.
select is((select array_agg(attempt order by attempt) from attempts_seen), array[1, 2, 3],
          'each lease counted one attempt');
select is((select array_agg(changed order by attempt) from attempts_seen), array[1, 1, 1],
          'each fail changed the row');
select is(
  (select row(status, attempts, last_error, lease_token, lease_expires_at)::text
     from public.events_queue where topic = 't.poison'),
  row('error', 3, 'boom #3', null::uuid, null::timestamptz)::text,
  'after max_attempts the job is dead-lettered with its last error');
select is((select count(*)::int from public.lease_events('t.poison', 10, 30)), 0,
          'a dead-lettered job is never leased again');
select is((select array[queue, topic, attempts::text, last_error, payload::text]
             from public.vw_dead_letter_queue where topic = 't.poison'),
          array['events_queue', 't.poison', '3', 'boom #3', '{"p": 1}'],
          'it shows in vw_dead_letter_queue');

-- One retry in detail: the row goes back to queued with run_at inside the first backoff window.
insert into public.events_queue (topic, payload) values ('t.retry', '{}');
select tests.authenticate_as_service_role();
select public.fail_events(array_agg(id), (array_agg(lease_token))[1], 'transient')
  from public.lease_events('t.retry', 1, 30);
select ok((select status = 'queued' and run_at - now() between interval '5 seconds'
                                                            and interval '10 seconds'
                  and lease_token is null and last_error = 'transient'
             from public.events_queue where topic = 't.retry'),
          'a first failure requeues the job 5-10 s out, lease cleared, error kept');

-- ---------------------------------------------------------------------------------------------
-- requeue_expired_leases
-- ---------------------------------------------------------------------------------------------
select tests.clear_authentication();
select tests.create_supabase_user('requeue_user');
insert into public.events_queue (topic, payload, status, attempts, max_attempts, lease_token,
                                 lease_expires_at)
values ('t.expired', '{"n": 1}', 'processing', 1, 5, gen_random_uuid(), now() - interval '1 s'),
       ('t.expired', '{"n": 2}', 'processing', 5, 5, gen_random_uuid(), now() - interval '1 s'),
       ('t.expired', '{"n": 3}', 'processing', 1, 5, gen_random_uuid(), now() + interval '1 min');
insert into public.marketplace_discovery_queue (interest_id, user_id, status, attempts,
                                                lease_token, lease_expires_at)
values (gen_random_uuid(), tests.get_supabase_uid('requeue_user'), 'processing', 1,
        gen_random_uuid(), now() - interval '1 s');
select tests.authenticate_as_service_role();
select is(public.requeue_expired_leases(), 3, 'requeue_expired_leases changes both queues');
select is((select array_agg(status order by payload ->> 'n') from public.events_queue
            where topic = 't.expired'),
          array['queued', 'error', 'processing'],
          'expired rows go back to queued, or to error on their last attempt; live leases stay');
select is((select status from public.marketplace_discovery_queue
            where user_id = tests.get_supabase_uid('requeue_user')), 'queued',
          'an expired discovery lease is requeued');
select is(public.requeue_expired_leases(), 0, 'a second run finds nothing');

select * from finish();
rollback;
