-- Retention: ops.prune_queues deletes, per queue, done rows and dead letters older than the
-- queue's ops.queue_retention (defaults 7 and 30 days; null keeps them), in one bounded batch,
-- reading partial indexes (EXPLAIN, and the index scan counters of the call itself). The
-- settings table is locked down and ledgered; run_queue_maintenance keeps its signature.
-- (The procedure commits, so it cannot run inside this test's transaction: the Deno test in
-- supabase/functions/_shared/queue_sql.test.ts calls it verbatim.)
begin;
select plan(28);

-- EXPLAIN's plan as JSON, for matching the index a statement reads.
create function pg_temp.explain_json(p_query text)
returns json
language plpgsql
as $$
declare
  plan json;
begin
  execute 'explain (format json) ' || p_query into plan;
  return plan;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- Settings
-- ---------------------------------------------------------------------------------------------
select is(
  (select array_agg(row(queue, done_retention, dead_letter_retention)::text order by queue)
     from ops.queue_retention),
  array[row('events_queue', interval '7 days', interval '30 days')::text,
        row('marketplace_discovery_queue', interval '7 days', interval '30 days')::text],
  'each queue keeps done rows 7 days and dead letters 30 by default');
select tests.rls_enabled('ops');
select ok(not has_table_privilege(r, 'ops.queue_retention', p), r || ' has no ' || p)
  from unnest(array['anon', 'authenticated']) as r, unnest(array['SELECT', 'UPDATE']) as p;
select ok(has_table_privilege('service_role', 'ops.queue_retention', 'UPDATE')
          and not has_table_privilege('service_role', 'ops.queue_retention', 'INSERT'),
          'service_role may change the retention, not add queues');
select throws_ok($$ update ops.queue_retention set done_retention = interval '7 seconds' $$,
                 '23514', null, 'a done retention under an hour is refused');

select set_config('app.reason', 'keep events history shorter', true);
update ops.queue_retention set done_retention = interval '2 days' where queue = 'events_queue';
select is(
  (select row(l.action, l.target, l.before ->> 'done_retention', l.after ->> 'done_retention',
              l.reason)::text
     from public.ai_action_ledger l where l.action like 'queue_retention.%'
    order by l.id desc limit 1),
  row('queue_retention.update', 'ops.queue_retention:events_queue', '7 days', '2 days',
      'keep events history shorter')::text,
  'a retention change is ledgered with its reason');

-- ---------------------------------------------------------------------------------------------
-- What a batch deletes
-- ---------------------------------------------------------------------------------------------
select tests.create_supabase_user('retention_user');
insert into public.events_queue (topic, payload, status, updated_at)
select 't.retention', jsonb_build_object('k', k), s, now() - a
  from (values ('done 3d', 'done', interval '3 days'), ('done 1d', 'done', interval '1 day'),
               ('error 40d', 'error', interval '40 days'), ('error 20d', 'error', interval '20 days'),
               ('queued 90d', 'queued', interval '90 days')) as v(k, s, a);
insert into public.marketplace_discovery_queue (interest_id, user_id, status, updated_at)
select gen_random_uuid(), tests.get_supabase_uid('retention_user'), s, now() - a
  from (values ('done', interval '8 days'), ('done', interval '6 days'),
               ('error', interval '31 days')) as v(s, a);

select is((select row(done_pruned, dead_pruned)::text from ops.prune_queues()),
          row(2, 2)::text, 'one call prunes what each queue''s retention allows');
select is((select array_agg(payload ->> 'k' order by payload ->> 'k') from public.events_queue
            where topic = 't.retention'),
          array['done 1d', 'error 20d', 'queued 90d'],
          'events: done past 2 days and dead past 30 days are gone; queued rows never are');
select is((select array_agg(status || ' ' || extract(day from now() - updated_at) order by status)
             from public.marketplace_discovery_queue
            where user_id = tests.get_supabase_uid('retention_user')),
          array['done 6'], 'discovery: by its own (default) retention');

update ops.queue_retention set dead_letter_retention = null where queue = 'events_queue';
update public.events_queue set updated_at = now() - interval '400 days'
 where topic = 't.retention' and status = 'error';
select is((select dead_pruned from ops.prune_queues()), 0, 'a null retention keeps dead letters');
select is((select done_pruned from ops.prune_queues(p_done_older_than => interval '12 hours')), 2,
          'p_done_older_than replaces the done retention of both queues for one call');

-- Bounded: the batch is shared by the four kinds, in order.
insert into public.events_queue (topic, payload, status, updated_at)
select 't.retention.batch', '{}', 'done', now() - interval '10 days' from generate_series(1, 5);
select is((select row(done_pruned, dead_pruned)::text from ops.prune_queues(p_batch_size => 3)),
          row(3, 0)::text, 'one batch deletes at most p_batch_size rows');
select is((select count(*)::int from public.events_queue where topic = 't.retention.batch'), 2,
          'the rest waits for the next batch');
select throws_ok($$ select * from ops.prune_queues(p_batch_size => 0) $$, '22023',
                 'p_batch_size must be between 1 and 100000', 'an empty batch is refused');

-- ops.purge_done_jobs: the same prune for done rows only, by its own age whatever the settings.
delete from public.events_queue where topic like 't.retention%';
update ops.queue_retention set done_retention = null, dead_letter_retention = interval '30 days'
 where queue = 'events_queue';
insert into public.events_queue (topic, payload, status, updated_at)
select 't.retention.purge', jsonb_build_object('k', k), s, now() - a
  from (values ('done 9d', 'done', interval '9 days'), ('done 8d', 'done', interval '8 days'),
               ('done 6d', 'done', interval '6 days'), ('error 40d', 'error', interval '40 days'))
       as v(k, s, a);
select is((select row(done_pruned, dead_pruned)::text
             from ops.prune_queues(p_dead_letters => false)),
          row(0, 0)::text, 'p_dead_letters => false leaves dead letters past their retention');
select is(ops.purge_done_jobs(interval '7 days', 1), 1,
          'purge_done_jobs deletes at most its batch, though the done retention is null');
select is(ops.purge_done_jobs(interval '7 days'), 1, 'and the rest past its age in the next');
select is((select array_agg(payload ->> 'k' order by payload ->> 'k') from public.events_queue
            where topic = 't.retention.purge'),
          array['done 6d', 'error 40d'], 'younger done rows and dead letters stay');
select throws_ok($$ select ops.purge_done_jobs(null) $$, '22023',
                 'p_older_than must be a non-negative interval',
                 'purge_done_jobs still needs an age: it never read the settings');
update ops.queue_retention set done_retention = interval '7 days' where queue = 'events_queue';

-- ---------------------------------------------------------------------------------------------
-- Cheap at any size: the prune reads the done and dead-letter indexes
-- ---------------------------------------------------------------------------------------------
-- Many recent done rows (the ones a prune must not read), a few old ones, and fresh stats.
delete from public.events_queue where topic like 't.retention%';
insert into public.events_queue (topic, payload, status, updated_at)
select 't.retention.bulk', '{}', 'done', now() - make_interval(mins => g % 1000)
  from generate_series(1, 20000) g;
insert into public.events_queue (topic, payload, status, updated_at)
select 't.retention.bulk', '{}', s, now() - interval '60 days'
  from generate_series(1, 10) g, unnest(array['done', 'error']) s;
update ops.queue_retention set dead_letter_retention = interval '30 days';
analyze public.events_queue;

select ok(
  (select plan::text ~ '"Index Name": "events_queue_done_idx"'
            and plan::text !~ '"Seq Scan"'
     from (select pg_temp.explain_json($$
             select q.id from public.events_queue q
              where q.status = 'done' and q.updated_at < now() - interval '7 days'
              order by q.updated_at limit 5000 for update skip locked $$) as plan) as e),
  'EXPLAIN: the done prune is an index range read on events_queue_done_idx, no seq scan');
select ok(
  (select plan::text ~ '"Index Name": "events_queue_dead_letter_idx"'
     from (select pg_temp.explain_json($$
             select q.id from public.events_queue q
              where q.status = 'error' and q.updated_at < now() - interval '30 days'
              order by q.updated_at limit 5000 for update skip locked $$) as plan) as e),
  'EXPLAIN: the dead-letter prune reads events_queue_dead_letter_idx');

create temp table scans on commit drop as
select pg_stat_get_xact_numscans('public.events_queue_done_idx'::regclass) as done_idx,
       pg_stat_get_xact_numscans('public.events_queue_dead_letter_idx'::regclass) as dead_idx,
       pg_stat_get_xact_numscans('public.events_queue'::regclass) as seq;
select is((select row(done_pruned, dead_pruned)::text from ops.prune_queues()), row(10, 10)::text,
          'the old rows among 20,000 recent ones are pruned');
select ok(
  (select pg_stat_get_xact_numscans('public.events_queue_done_idx'::regclass) > s.done_idx
          and pg_stat_get_xact_numscans('public.events_queue_dead_letter_idx'::regclass) > s.dead_idx
     from scans s),
  'the call itself scanned both indexes');
select is((select pg_stat_get_xact_numscans('public.events_queue'::regclass) - s.seq from scans s),
          0::bigint, 'and never scanned the table');

-- ---------------------------------------------------------------------------------------------
-- The maintenance procedure's call signature
-- ---------------------------------------------------------------------------------------------
select is(pg_get_function_arguments('ops.run_queue_maintenance(interval, integer, integer)'::regprocedure),
          'IN p_retention interval DEFAULT NULL::interval, IN p_batch_size integer DEFAULT 5000, '
            || 'IN p_max_batches integer DEFAULT 200',
          'run_queue_maintenance keeps its arguments; the retention defaults to the settings');

select * from finish();
rollback;
