-- The global ceiling (ops.queue_dispatch_settings.max_calls_per_tick): when many topics are due
-- in the same minute, their ticks together never have more calls running than the ceiling;
-- calls that answer free their room. Changing the ceiling is ledgered.
begin;
select plan(8);

create function pg_temp.tick(p_job_name text)
returns setof bigint
language plpgsql
as $$
begin
  return query execute (select j.command from cron.job j where j.jobname = p_job_name);
end
$$;

-- Calls left running by earlier runs against this database would take room: none in this test.
update ops.queue_dispatch_calls set answered_at = now() where answered_at is null;

select set_config('app.actor', 'ops:test', true), set_config('app.reason', 'ceiling test', true);
update ops.queue_dispatch_settings set max_calls_per_tick = 10;
select results_eq(
  $$ select actor, reason, before ->> 'max_calls_per_tick', after ->> 'max_calls_per_tick'
       from public.ai_action_ledger
      where action = 'queue_dispatch_settings.update' order by id desc limit 1 $$,
  $$ values ('ops:test', 'ceiling test', '16', '10') $$,
  'a ceiling change is ledgered with actor, reason, before and after');

-- Five topics, each with a backlog worth its 4 calls, all due at once.
select ops.schedule_queue_topic('t.ceiling.' || n, p_batch_limit => 10) from generate_series(1, 5) n;
insert into public.events_queue (topic, payload)
select 't.ceiling.' || n, '{}' from generate_series(1, 5) n, generate_series(1, 100);
create temp table issued (n int, request_id bigint) on commit drop;
do $$
begin
  for n in 1 .. 5 loop
    execute format('insert into pg_temp.issued select %s, r from pg_temp.tick(%L) r',
                   n, 'queue-worker:t.ceiling.' || n);
  end loop;
end
$$;

select results_eq(
  $$ select n, count(*)::int from issued group by n order by n $$,
  $$ values (1, 4), (2, 4), (3, 2) $$,
  'in order of arrival: 4, 4, then the 2 left under the ceiling of 10, then none');
select results_eq(
  $$ select topic, parallelism, calls_issued from ops.queue_dispatch_ticks
      where topic like 't.ceiling.%' order by id $$,
  $$ values ('t.ceiling.1', 4, 4), ('t.ceiling.2', 4, 4), ('t.ceiling.3', 4, 2),
            ('t.ceiling.4', 4, 0), ('t.ceiling.5', 4, 0) $$,
  'each tick records the 4 its backlog wanted and what the ceiling let it post');
select is((select count(*)::int from ops.queue_dispatch_calls where answered_at is null), 10,
          'running calls across all topics: exactly the ceiling');

-- Topic 1's calls answer: their room goes to the next topics due.
insert into net._http_response (id, status_code, content)
select i.request_id, 200, '{}' from issued i where i.n = 1;
insert into pg_temp.issued select 4, r from pg_temp.tick('queue-worker:t.ceiling.4') r;
insert into pg_temp.issued select 5, r from pg_temp.tick('queue-worker:t.ceiling.5') r;
select results_eq(
  $$ select n, count(*)::int from issued where n >= 4 group by n order by n $$,
  $$ values (4, 4) $$,
  'answered calls free their room: topic 4 gets its 4, topic 5 still none');

-- A lower ceiling holds at once; a call lost by pg_net stops counting at its timeout.
update ops.queue_dispatch_settings set max_calls_per_tick = 1;
select is_empty($$ select * from pg_temp.tick('queue-worker:t.ceiling.5') $$,
                'with more calls running than a lowered ceiling, no tick posts any');
update ops.queue_dispatch_calls set expires_at = now() - interval '1 second'
 where answered_at is null;
select is((select count(*)::int from pg_temp.tick('queue-worker:t.ceiling.5')), 1,
          'calls past their pg_net timeout no longer count as running');

select throws_ok($$ update ops.queue_dispatch_settings set max_calls_per_tick = 0 $$, '23514', null,
                 'the ceiling is at least 1');

select * from finish();
rollback;
