-- ops.dispatch_worker: a worker job's tick posts as many calls as the runnable backlog needs at
-- the measured per-call rate (none when nothing is runnable, one for a small backlog, never more
-- than the topic's max_parallel), each a separate net.http_post with its own call_id, noted
-- for vw_cron_health. Nothing here is sent: the transaction rolls back.
begin;
select plan(29);

-- Runs a job's command as pg_cron does (verbatim) and returns the request ids it answered.
create function pg_temp.tick(p_job_name text)
returns setof bigint
language plpgsql
as $$
begin
  return query execute (select j.command from cron.job j where j.jobname = p_job_name);
end
$$;

create function pg_temp.enqueue(p_topic text, p_n int, p_run_at timestamptz default now())
returns void
language sql
as $$
  insert into public.events_queue (topic, payload, run_at)
  select p_topic, '{}', p_run_at from generate_series(1, p_n)
$$;

select ops.schedule_queue_topic(t, p_batch_limit => 50)
from unnest(array['t.dispatch.empty', 't.dispatch.small', 't.dispatch.big', 't.dispatch.rate',
                  't.dispatch.later', 't.dispatch.expired']) t;

-- The job: one statement, the dispatcher, the worker's body; no key in it.
select matches(
  (select command from cron.job where jobname = 'queue-worker:t.dispatch.big'),
  '^select request_id from ops\.dispatch_worker\(\s+p_job_name := ''queue-worker:t\.dispatch\.big'',\s+p_path := ''/functions/v1/queue-worker'',\s+p_body := ''[^'']*''::jsonb,\s+p_timeout_milliseconds := 60000\)$',
  'a topic''s cron command is one call of the dispatcher for its job, function and body');
select is(
  (select substring(command from 'body := ''([^'']*)''') from cron.job
    where jobname = 'queue-worker:t.dispatch.big')::jsonb,
  '{"topic": "t.dispatch.big", "limit": 50, "ttl": 120}'::jsonb,
  'with the worker''s body');
select ok((select command not like '%eyJ%' from cron.job where jobname = 'queue-worker:t.dispatch.big'),
          'no key is written into the job');
select is((select count(*)::int from cron.job where jobname like 'queue-worker:%'
             and command not like 'select request_id from ops.dispatch_worker(%'), 0,
          'every queue-worker job, the migrated ones included, runs through the dispatcher');
select matches((select command from cron.job where jobname = 'rocker-discovery-run'),
               'p_path := ''/functions/v1/rocker-discovery-run'',\s+p_body := ''\{"ttl": 120, "limit": 1000\}''::jsonb',
               'rocker-discovery-run runs through the dispatcher, its body kept');
select is((select schedule from cron.job where jobname = 'rocker-discovery-run'), '*/5 * * * *',
          'and its schedule kept');

-- Empty queue: no call.
select is_empty($$ select * from pg_temp.tick('queue-worker:t.dispatch.empty') $$,
                'with an empty queue a tick posts no call');
select results_eq(
  $$ select parallelism, calls_issued, backlog_before from ops.queue_dispatch_ticks
      where topic = 't.dispatch.empty' $$,
  $$ values (0, 0, 0::bigint) $$,
  'and records the empty tick');

-- A backlog one call drains: one call.
select pg_temp.enqueue('t.dispatch.small', 10);
select is((select count(*)::int from pg_temp.tick('queue-worker:t.dispatch.small')), 1,
          'with a backlog one call drains (10 of limit 50) a tick posts one call');

-- A backlog larger than max_parallel calls drain: max_parallel calls.
select is(ops.set_queue_parallelism('t.dispatch.big', 4), 4,
          'set_queue_parallelism answers the value it replaces (the default, 4)');
select pg_temp.enqueue('t.dispatch.big', 1000);
create temp table big (request_id bigint) on commit drop;
insert into big select * from pg_temp.tick('queue-worker:t.dispatch.big');
select is((select count(*)::int from big), 4,
          'with max_parallel 4 and 1,000 runnable jobs (20 calls of 50) a tick posts 4 calls');
select results_eq(
  $$ select q.method, q.url, q.headers ->> 'Authorization', q.timeout_milliseconds,
            convert_from(q.body, 'UTF8')::jsonb - 'call_id'
       from net.http_request_queue q join big b on b.request_id = q.id order by q.id $$,
  $$ select 'POST', (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
                    || '/functions/v1/queue-worker',
            'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                          where name = 'service_role_key'),
            60000, '{"topic": "t.dispatch.big", "limit": 50, "ttl": 120}'::jsonb
       from generate_series(1, 4) $$,
  'each is a separate POST in net.http_request_queue: the worker, the Vault key, the job''s body');
select is(
  (select count(distinct (convert_from(q.body, 'UTF8')::jsonb ->> 'call_id')::uuid)::int
     from net.http_request_queue q join big b on b.request_id = q.id
     join ops.queue_dispatch_calls c on c.id = (convert_from(q.body, 'UTF8')::jsonb ->> 'call_id')::uuid
                                    and c.request_id = q.id),
  4, 'each carries its own call_id, the key of its row in ops.queue_dispatch_calls');
select results_eq(
  $$ select q.jobname from ops.cron_requests q join big b on b.request_id = q.request_id $$,
  $$ values ('queue-worker:t.dispatch.big'), ('queue-worker:t.dispatch.big'),
            ('queue-worker:t.dispatch.big'), ('queue-worker:t.dispatch.big') $$,
  'each request is noted under the job''s name, so vw_cron_health counts its answer');
select results_eq(
  $$ select parallelism, calls_issued, backlog_before from ops.queue_dispatch_ticks
      where topic = 't.dispatch.big' $$,
  $$ values (4, 4, 1000::bigint) $$,
  'the tick records what it wanted, what it posted and the backlog it saw');

-- Its calls are still running (no result, no answer): the next tick has no room.
select is_empty($$ select * from pg_temp.tick('queue-worker:t.dispatch.big') $$,
                'while the topic''s max_parallel calls run, a tick posts none');
select results_eq(
  $$ select parallelism, calls_issued from ops.queue_dispatch_ticks
      where topic = 't.dispatch.big' order by id desc limit 1 $$,
  $$ values (4, 0) $$,
  'and records that it wanted 4');
-- Two answered (one recorded its result, one only has pg_net's answer): room for two.
select ops.record_dispatch_call(c.id, c.topic, 50, 0, 40)
from ops.queue_dispatch_calls c where c.topic = 't.dispatch.big' order by c.request_id limit 1;
insert into net._http_response (id, status_code, content)
select c.request_id, 500, 'boom' from ops.queue_dispatch_calls c
where c.topic = 't.dispatch.big' order by c.request_id desc limit 1;
select is((select count(*)::int from pg_temp.tick('queue-worker:t.dispatch.big')), 2,
          'a call that recorded its result or was answered no longer counts as running');

-- The per-call rate comes from the calls' own results: 10 jobs in a whole 50 s budget means a
-- call does 10 per tick, so 30 runnable jobs need 3 calls (the limit alone would say 1).
select pg_temp.enqueue('t.dispatch.rate', 30);
select is((select count(*)::int from pg_temp.tick('queue-worker:t.dispatch.rate')), 1,
          'before any call has answered, a call is assumed to do its whole limit');
select ops.record_dispatch_call(c.id, c.topic, 10, 1, 50000)
from ops.queue_dispatch_calls c where c.topic = 't.dispatch.rate';
select is((select count(*)::int from pg_temp.tick('queue-worker:t.dispatch.rate')), 3,
          'once one answered 10 jobs in 50 s, 30 runnable jobs get 3 calls');

-- Only runnable rows count: not those due later; expired leases do.
select pg_temp.enqueue('t.dispatch.later', 500, now() + interval '1 hour');
select is_empty($$ select * from pg_temp.tick('queue-worker:t.dispatch.later') $$,
                'jobs due later are not a backlog');
select pg_temp.enqueue('t.dispatch.expired', 120);
update public.events_queue set status = 'processing', attempts = 1,
       lease_token = gen_random_uuid(), lease_expires_at = now() - interval '1 second'
 where topic = 't.dispatch.expired';
select is((select count(*)::int from pg_temp.tick('queue-worker:t.dispatch.expired')), 3,
          'rows whose lease expired are runnable again (120 of limit 50: 3 calls)');

-- What no worker would accept is refused when scheduled or dispatched.
select throws_ok(
  $$ select * from ops.dispatch_worker('j', '/functions/v1/health', '{}') $$,
  '22023', 'p_path must be /functions/v1/queue-worker or /functions/v1/rocker-discovery-run',
  'the dispatcher drives only the two queue workers');
select throws_ok(
  $$ select * from ops.dispatch_worker('j', '/functions/v1/queue-worker', '{"limit": 50}') $$,
  '22023', 'p_body must name a topic of 1 to 200 characters',
  'a queue-worker body must name its topic');
select throws_ok(
  $$ select ops.schedule_worker_dispatch('j', '* * * * *', 'rocker-discovery-run', '{"limit": "x"}') $$,
  '22023', 'p_body limit must be an integer between 1 and 1000',
  'a limit the worker would refuse is refused when scheduling');
select throws_ok(
  $$ select ops.schedule_queue_topic('marketplace_discovery_queue') $$,
  '22023', 'p_topic marketplace_discovery_queue is reserved for rocker-discovery-run',
  'an events topic may not take the discovery queue''s dispatch name');
select throws_ok(
  $$ select ops.schedule_worker_dispatch('j', '* * * * *', 'queue-worker',
                                         '{"topic": "marketplace_discovery_queue"}') $$,
  '22023', 'p_body topic marketplace_discovery_queue is reserved for rocker-discovery-run',
  'nor through a hand-made queue-worker schedule');
select throws_ok(
  $$ select * from ops.dispatch_worker('j', '/functions/v1/queue-worker',
                                      '{"topic": "marketplace_discovery_queue"}') $$,
  '22023', 'p_body topic marketplace_discovery_queue is reserved for rocker-discovery-run',
  'nor through a dispatcher call');
select throws_ok(
  $$ select ops.schedule_worker_dispatch('j', '* * * * *', 'health') $$,
  '22023', 'p_function_name must be queue-worker or rocker-discovery-run',
  'and so is a function that is not a queue worker');

select * from finish();
rollback;
