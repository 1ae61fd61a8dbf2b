-- What the dispatcher records and who sees it: ops.set_queue_parallelism (validated, ledgered),
-- ops.record_dispatch_call (a call's own result, first write wins, only under the call's own
-- topic), public.vw_queue_dispatches (per tick: calls answered, jobs processed and failed, calls
-- that ended without a result, backlog before and at the next tick), the pruning of old ticks
-- of every topic, and the privileges of each.
begin;
select plan(27);

-- set_queue_parallelism: bounds, answer, ledger.
select throws_ok($$ select ops.set_queue_parallelism('t.view', 0) $$, '22023',
                 'p_max_parallel must be between 1 and 100', 'max_parallel is at least 1');
select throws_ok($$ select ops.set_queue_parallelism('t.view', 101) $$, '22023',
                 'p_max_parallel must be between 1 and 100', 'and at most 100');
select throws_ok($$ select ops.set_queue_parallelism('', 2) $$, '22023',
                 'p_topic must be 1 to 200 characters', 'the topic is named');
select set_config('app.actor', 'ops:test', true), set_config('app.reason', 'backlog alert', true);
select is(ops.set_queue_parallelism('t.view', 3), 4, 'unset, a topic has the default 4');
select is(ops.set_queue_parallelism('t.view', 2), 3, 'set, it answers the value replaced');
select results_eq(
  $$ select action, target, actor, reason, (before ->> 'max_parallel')::int,
            (after ->> 'max_parallel')::int
       from public.ai_action_ledger where target = 'ops.queue_parallelism:t.view' order by id $$,
  $$ values ('queue_parallelism.insert', 'ops.queue_parallelism:t.view', 'ops:test',
             'backlog alert', null::int, 3),
            ('queue_parallelism.update', 'ops.queue_parallelism:t.view', 'ops:test',
             'backlog alert', 3, 2) $$,
  'each change is ledgered with actor, reason, before and after');

-- Two ticks with calls, their results recorded by the calls.
update ops.queue_dispatch_calls set answered_at = now() where answered_at is null;
select ops.schedule_queue_topic('t.view', p_batch_limit => 10);
insert into public.events_queue (topic, payload) select 't.view', '{}' from generate_series(1, 25);
create temp table first_tick (request_id bigint) on commit drop;
insert into first_tick
select * from ops.dispatch_worker('queue-worker:t.view', '/functions/v1/queue-worker',
                                  '{"topic": "t.view", "limit": 10, "ttl": 120}');
select is((select count(*)::int from first_tick), 2, 'max_parallel 2 caps the first tick at 2 calls');
create temp view first_calls as
select c.id, row_number() over (order by c.request_id) as n
from ops.queue_dispatch_calls c join first_tick f on f.request_id = c.request_id;
select ok(ops.record_dispatch_call((select id from first_calls where n = 1), 't.view', 10, 2, 30),
          'a call records its result');
select ok(not ops.record_dispatch_call((select id from first_calls where n = 1), 't.view', 99, 0, 1),
          'a second write for the same call is ignored');
select ok(not ops.record_dispatch_call(gen_random_uuid(), 't.view', 1, 0, 1),
          'an unknown call records nothing');
select ok(not ops.record_dispatch_call((select id from first_calls where n = 2), 't.other', 7, 0, 5),
          'a call_id posted for another topic records nothing (a worker call of t.other '
          'cannot write over t.view''s rate)');
select is((select processed from ops.queue_dispatch_calls
            where id = (select id from first_calls where n = 2)), null::int,
          'and leaves that call as it was');
select throws_ok($$ select ops.record_dispatch_call(gen_random_uuid(), 't.view', 1, 2, 1) $$, '22023',
                 'p_processed, p_errors and p_duration_ms must be counts (p_errors <= p_processed)',
                 'errors cannot exceed processed');
-- The jobs the recorded call did are gone from the backlog the next tick sees.
delete from public.events_queue where id in (
  select id from public.events_queue where topic = 't.view' order by id limit 10);
select ok(ops.record_dispatch_call((select id from first_calls where n = 2), 't.view', 0, 0, 5),
          'a call that found nothing left records that too');
create temp table second_tick (request_id bigint) on commit drop;
insert into second_tick
select * from ops.dispatch_worker('queue-worker:t.view', '/functions/v1/queue-worker',
                                  '{"topic": "t.view", "limit": 10, "ttl": 120}');
-- One of its calls is refused (pg_net has a 401, the worker recorded nothing); one still runs.
insert into net._http_response (id, status_code, content)
select min(request_id), 401, '{"error":"unauthorized"}' from second_tick;

select results_eq(
  $$ select parallelism, calls_issued, calls_answered, processed, errors, backlog_before,
            backlog_after
       from public.vw_queue_dispatches where topic = 't.view' order by tick_at, backlog_before desc $$,
  $$ values (2, 2, 2, 10::bigint, 2::bigint, 25::bigint, 15::bigint),
            (2, 2, 1, 0::bigint, 1::bigint, 15::bigint, null::bigint) $$,
  'vw_queue_dispatches: per tick, answered calls and their jobs, a call answered without a '
  'result as answered and one error, the backlog before and at the next tick');
select is(
  array(select attname::text from pg_attribute
         where attrelid = 'public.vw_queue_dispatches'::regclass and attnum > 0 order by attnum),
  array['topic', 'tick_at', 'parallelism', 'calls_issued', 'calls_answered', 'processed',
        'errors', 'backlog_before', 'backlog_after'],
  'the view has exactly the documented columns');

-- Who may do what.
select ok(has_table_privilege('service_role', 'public.vw_queue_dispatches', 'SELECT')
          and not has_table_privilege('authenticated', 'public.vw_queue_dispatches', 'SELECT')
          and not has_table_privilege('anon', 'public.vw_queue_dispatches', 'SELECT'),
          'only service_role reads vw_queue_dispatches');
select tests.authenticate_as_service_role();
select is((select count(*)::int from public.vw_queue_dispatches where topic = 't.view'), 2,
          'and it sees the ticks through it');
select tests.clear_authentication();
select ok(has_function_privilege('service_role', 'ops.set_queue_parallelism(text, integer)', 'EXECUTE')
          and not has_function_privilege('authenticated', 'ops.set_queue_parallelism(text, integer)', 'EXECUTE'),
          'service_role (the ops CLI) may set max_parallel; users may not');
select is(
  array(select f from unnest(array[
          'ops.dispatch_worker(text, text, jsonb, integer)',
          'ops.schedule_worker_dispatch(text, text, text, jsonb, integer)',
          'ops.record_dispatch_call(uuid, text, integer, integer, integer)',
          'ops.dispatch_target(text, text, jsonb, integer)',
          'ops.queue_runnable_backlog(text, integer)']) f,
          unnest(array['service_role', 'authenticated', 'anon']) r
        where has_function_privilege(r, f, 'EXECUTE')),
  '{}'::text[],
  'the dispatcher and what the workers write through are for the owner only');
select ok(not has_table_privilege('service_role', 'ops.queue_dispatch_calls', 'UPDATE')
          and not has_table_privilege('service_role', 'ops.queue_dispatch_ticks', 'INSERT'),
          'service_role reads the dispatch records but cannot write them');
select tests.rls_enabled('ops');

-- The next tick stamps the refused call over: it stays answered (and an error) once pg_net
-- drops its answer; a result the call records late still lands.
select from ops.dispatch_worker('queue-worker:t.view', '/functions/v1/queue-worker',
                                '{"topic": "t.view", "limit": 10, "ttl": 120}');
delete from net._http_response where id = (select min(request_id) from second_tick);
select results_eq(
  $$ select calls_answered, processed, errors from public.vw_queue_dispatches
      where topic = 't.view' and backlog_before = 15 order by tick_at limit 1 $$,
  $$ values (1, 0::bigint, 1::bigint) $$,
  'a call answered without a result stays answered and an error after pg_net drops its answer');
select ok(ops.record_dispatch_call((select c.id from ops.queue_dispatch_calls c
                                     where c.request_id = (select min(request_id) from second_tick)),
                                   't.view', 3, 0, 61000),
          'a call that outlived its timeout still records its result');
select results_eq(
  $$ select calls_answered, processed, errors from public.vw_queue_dispatches
      where topic = 't.view' and backlog_before = 15 order by tick_at limit 1 $$,
  $$ values (1, 3::bigint, 0::bigint) $$,
  'and then counts as its jobs, not as an error');

-- Pruning: each tick deletes the oldest 100 ticks past the retention (7 days), of any topic,
-- so a topic no longer scheduled leaves nothing behind for long.
insert into ops.queue_dispatch_ticks (topic, jobname, tick_at, parallelism, calls_issued,
                                      backlog_before)
select 't.gone', 'queue-worker:t.gone', now() - interval '8 days' - n * interval '1 minute', 0, 0, 0
from generate_series(1, 150) n
union all
select 't.gone', 'queue-worker:t.gone', now() - interval '6 days', 0, 0, 0;
select from ops.dispatch_worker('queue-worker:t.view', '/functions/v1/queue-worker',
                                '{"topic": "t.view", "limit": 10, "ttl": 120}');
select is((select count(*)::int from ops.queue_dispatch_ticks where topic = 't.gone'), 51,
          'a tick of one topic prunes the oldest 100 ticks of an unscheduled one');
select from ops.dispatch_worker('queue-worker:t.view', '/functions/v1/queue-worker',
                                '{"topic": "t.view", "limit": 10, "ttl": 120}');
select results_eq(
  $$ select tick_at from ops.queue_dispatch_ticks where topic = 't.gone' $$,
  $$ values (now() - interval '6 days') $$,
  'the next prunes the rest, keeping the ticks inside the retention');

select * from finish();
rollback;
