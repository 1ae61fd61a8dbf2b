-- ops.queue_runnable_backlog, which every dispatcher tick runs: a queue holding many jobs due
-- later (delayed jobs, backoff) costs the count only the runnable ones. Measured two ways: the
-- plan of each branch's queued count is a range scan of the *_queued_since_idx index bounded by
-- now(), and the index entries and heap rows the function itself reads (this transaction's
-- statistics) stay near the runnable count, not the 20,000 rows due later.
begin;
select plan(8);

select tests.create_supabase_user('dispatch-backlog@test.local');
insert into public.events_queue (topic, payload, run_at)
select 't.backlog.later', '{}', now() + interval '1 hour' from generate_series(1, 20000);
insert into public.events_queue (topic, payload) select 't.backlog.later', '{}' from generate_series(1, 5);
insert into public.marketplace_discovery_queue (interest_id, user_id, run_at)
select gen_random_uuid(), tests.get_supabase_uid('dispatch-backlog@test.local'),
       now() + interval '1 hour'
from generate_series(1, 20000);
insert into public.marketplace_discovery_queue (interest_id, user_id)
select gen_random_uuid(), tests.get_supabase_uid('dispatch-backlog@test.local')
from generate_series(1, 5);
analyze public.events_queue;
analyze public.marketplace_discovery_queue;

-- The plan of a statement, as text, under the planner settings ops.queue_runnable_backlog runs
-- with (its SET clauses; this function's own SET clauses put them back on return).
create function pg_temp.plan_of(p_sql text)
returns text
language plpgsql
set enable_seqscan = on
set enable_bitmapscan = on
as $$
declare
  line text;
  plan text := '';
begin
  perform set_config(split_part(c, '=', 1), split_part(c, '=', 2), true)
  from unnest((select proconfig from pg_proc
                where oid = 'ops.queue_runnable_backlog(text, integer)'::regprocedure)) c
  where c not like 'search_path=%';
  for line in execute 'explain (costs off) ' || p_sql loop
    plan := plan || line || E'\n';
  end loop;
  return plan;
end
$$;

-- Index entries returned plus heap rows read from p_table and its indexes, so far in this
-- transaction (sequential scans included: a table's tuples_returned counts their rows).
create function pg_temp.rows_read(p_table regclass)
returns bigint
language sql
as $$
  select sum(pg_stat_get_xact_tuples_returned(r.oid) + pg_stat_get_xact_tuples_fetched(r.oid))::bigint
  from pg_class r
  where r.oid = p_table
     or r.oid in (select i.indexrelid from pg_index i where i.indrelid = p_table)
$$;

-- The two queued counts, verbatim from ops.queue_runnable_backlog.
select matches(
  pg_temp.plan_of($$
    select count(*) from (select 1 from public.events_queue q
      where q.topic = 't.backlog.later' and q.status = 'queued'
        and greatest(q.run_at, q.created_at) <= pg_catalog.now()
      limit 1000) s $$),
  'Index Only Scan using events_queue_queued_since_idx on events_queue q\s+Index Cond: \(\(topic = ''t\.backlog\.later''::text\) AND \(\(GREATEST\(run_at, created_at\)\) <= now\(\)\)\)',
  'events: the queued count is an index-only range scan of events_queue_queued_since_idx, ended by now()');
select matches(
  pg_temp.plan_of($$
    select count(*) from (select 1 from public.marketplace_discovery_queue q
      where q.status = 'queued' and greatest(q.run_at, q.created_at) <= pg_catalog.now()
      limit 1000) s $$),
  'Index Only Scan using marketplace_discovery_queue_queued_since_idx on marketplace_discovery_queue q\s+Index Cond: \(\(GREATEST\(run_at, created_at\)\) <= now\(\)\)',
  'discovery: an index-only range scan of marketplace_discovery_queue_queued_since_idx, ended by now()');
select ok(
  (select prosrc like '%greatest(q.run_at, q.created_at) <= pg_catalog.now()%'
     and prosrc not like '%run_at <= pg_catalog.now()%'
   from pg_proc where oid = 'ops.queue_runnable_backlog(text, integer)'::regprocedure),
  'the function counts with that predicate, not run_at <= now()');

-- What the function itself reads: the 5 runnable rows, not the 20,000 due later.
create temp table reads as select pg_temp.rows_read('public.events_queue') as before;
select is(ops.queue_runnable_backlog('t.backlog.later', 1000), 5::bigint,
          'events: 5 runnable among 20,005 queued');
select cmp_ok(pg_temp.rows_read('public.events_queue') - (select before from reads), '<', 100::bigint,
              'and counting them read fewer than 100 index entries and rows');
update reads set before = pg_temp.rows_read('public.marketplace_discovery_queue');
select is(ops.queue_runnable_backlog('marketplace_discovery_queue', 1000), 5::bigint,
          'discovery: 5 runnable among 20,005 queued');
select cmp_ok(pg_temp.rows_read('public.marketplace_discovery_queue') - (select before from reads),
              '<', 100::bigint, 'and counting them read fewer than 100 index entries and rows');

-- The cap still bounds a runnable backlog larger than it.
select is(ops.queue_runnable_backlog('t.backlog.later', 3), 3::bigint,
          'a runnable backlog past the cap counts as the cap');

select * from finish();
rollback;
