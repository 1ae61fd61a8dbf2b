-- Health and dead-letter views over both queues, for dashboards, alerts and the runbook
-- (docs/queue.md). postgres runs them from the SQL editor; service_role (the ops CLI, health
-- checks) may read them too; no client role can.
--
-- Age is the time since a row became runnable: since greatest(run_at, created_at). run_at is
-- when a job may first run, moved forward by each retry's backoff; created_at covers a job
-- enqueued with a run_at in the past, which cannot have been waiting before it existed.
--   * queued rows whose run_at is still in the future count in `items` but have no age (they
--     are scheduled, not late);
--   * processing and error rows are aged the same way (how long the work has been due);
--   * done rows have no age: their p95_age_sec and oldest_age_sec are null.
-- For the other statuses the ages are 0 when no row has one.
--
-- Cost: queued, processing and error rows are read through their partial indexes, so the views
-- cost the same however many done rows the tables hold. The done count is exact while a table
-- is small (< 8 MiB) and above that an estimate, as DESIGN §5 asks of health views:
-- pg_class.reltuples times the done share of a block sample (TABLESAMPLE SYSTEM, ~500 pages).


-- =============================================================================================
-- ops.queue_done_sample_percent — how much of a large table the done estimate samples
-- =============================================================================================

-- The TABLESAMPLE SYSTEM percentage that reads about 500 pages of `rel` (all of it when smaller):
-- enough rows (tens of thousands) for a per-topic share within a few percent, cheap enough to
-- keep the views far under their 50 ms budget.
create function ops.queue_done_sample_percent(rel regclass)
returns double precision
language sql
stable
set search_path = ''
as $$
  select least(100, 100.0 * 500 / greatest(c.relpages, 1))::double precision
  from pg_catalog.pg_class c where c.oid = rel
$$;
revoke all on function ops.queue_done_sample_percent(regclass) from public;
grant execute on function ops.queue_done_sample_percent(regclass) to service_role;


-- =============================================================================================
-- public.vw_discovery_queue_health
-- =============================================================================================

-- The rows of vw_discovery_queue_health: one per status, always all four, so
-- `where status = 'queued'` always finds its row.
create function ops.discovery_queue_health()
returns table (status text, items bigint, p95_age_sec numeric, oldest_age_sec numeric)
language plpgsql
volatile -- the done estimate samples at random
set search_path = ''
as $$
declare
  -- Below this size counting done rows exactly is cheap; above it, estimate.
  exact_count_max_bytes constant bigint := 8 * 1024 * 1024;
  rel constant regclass := 'public.marketplace_discovery_queue'::regclass;
  sample_percent double precision;
  table_rows real;
  done_items bigint;
begin
  return query
  select s.status, pg_catalog.count(a.status),
         coalesce(pg_catalog.round((pg_catalog.percentile_cont(0.95)
                                    within group (order by a.age))::numeric, 3), 0),
         coalesce(pg_catalog.round(pg_catalog.max(a.age)::numeric, 3), 0)
  from (values (1, 'queued'), (2, 'processing'), (4, 'error')) as s(ord, status)
  left join (
    select q.status,
           case when q.run_at <= pg_catalog.now()
                then extract(epoch from pg_catalog.now() - greatest(q.run_at, q.created_at))
           end as age
      from public.marketplace_discovery_queue q where q.status = 'queued'
    union all
    select q.status, extract(epoch from pg_catalog.now() - greatest(q.run_at, q.created_at))
      from public.marketplace_discovery_queue q where q.status = 'processing'
    union all
    select q.status, extract(epoch from pg_catalog.now() - greatest(q.run_at, q.created_at))
      from public.marketplace_discovery_queue q where q.status = 'error'
  ) as a on a.status = s.status
  group by s.ord, s.status;

  select c.reltuples into table_rows from pg_catalog.pg_class c where c.oid = rel;
  if pg_catalog.pg_relation_size(rel) < exact_count_max_bytes or table_rows < 0 then
    select pg_catalog.count(*) into done_items
      from public.marketplace_discovery_queue q where q.status = 'done';
  else
    sample_percent := ops.queue_done_sample_percent(rel);
    select pg_catalog.round(table_rows * pg_catalog.count(*) filter (where q.status = 'done')
                            / greatest(pg_catalog.count(*), 1))::bigint
      into done_items
      from public.marketplace_discovery_queue q tablesample system (sample_percent);
  end if;

  return query select 'done'::text, done_items, null::numeric, null::numeric;
end
$$;
revoke all on function ops.discovery_queue_health() from public;
grant execute on function ops.discovery_queue_health() to service_role;

-- Items and ages per status of the discovery queue. See the header for what age means.
create view public.vw_discovery_queue_health
with (security_invoker = true)
as
select h.status, h.items, h.p95_age_sec, h.oldest_age_sec
from ops.discovery_queue_health() as h
order by pg_catalog.array_position(array['queued', 'processing', 'done', 'error'], h.status);

revoke all on public.vw_discovery_queue_health from public, anon, authenticated, service_role;
grant select on public.vw_discovery_queue_health to service_role;


-- =============================================================================================
-- public.vw_events_queue_health
-- =============================================================================================

-- The rows of vw_events_queue_health: one per (topic, status) that has rows.
create function ops.events_queue_health()
returns table (topic text, status text, items bigint, p95_age_sec numeric,
               oldest_age_sec numeric)
language plpgsql
volatile -- the done estimate samples at random
set search_path = ''
as $$
declare
  exact_count_max_bytes constant bigint := 8 * 1024 * 1024;
  rel constant regclass := 'public.events_queue'::regclass;
  sample_percent double precision;
  table_rows real;
begin
  return query
  select a.topic, a.status, pg_catalog.count(*),
         coalesce(pg_catalog.round((pg_catalog.percentile_cont(0.95)
                                    within group (order by a.age))::numeric, 3), 0),
         coalesce(pg_catalog.round(pg_catalog.max(a.age)::numeric, 3), 0)
  from (
    select q.topic, q.status,
           case when q.run_at <= pg_catalog.now()
                then extract(epoch from pg_catalog.now() - greatest(q.run_at, q.created_at))
           end as age
      from public.events_queue q where q.status = 'queued'
    union all
    select q.topic, q.status,
           extract(epoch from pg_catalog.now() - greatest(q.run_at, q.created_at))
      from public.events_queue q where q.status = 'processing'
    union all
    select q.topic, q.status,
           extract(epoch from pg_catalog.now() - greatest(q.run_at, q.created_at))
      from public.events_queue q where q.status = 'error'
  ) as a
  group by a.topic, a.status;

  select c.reltuples into table_rows from pg_catalog.pg_class c where c.oid = rel;
  if pg_catalog.pg_relation_size(rel) < exact_count_max_bytes or table_rows < 0 then
    return query
    select q.topic, 'done'::text, pg_catalog.count(*), null::numeric, null::numeric
      from public.events_queue q where q.status = 'done'
     group by q.topic;
  else
    sample_percent := ops.queue_done_sample_percent(rel);
    -- Each topic's done rows: its share of the sampled rows, scaled to the table's row count.
    return query
    with sampled as (
      select q.topic, q.status from public.events_queue q tablesample system (sample_percent)
    )
    select s.topic, 'done'::text,
           pg_catalog.round(table_rows * pg_catalog.count(*)
                            / (select greatest(pg_catalog.count(*), 1) from sampled))::bigint,
           null::numeric, null::numeric
      from sampled s where s.status = 'done'
     group by s.topic;
  end if;
end
$$;
revoke all on function ops.events_queue_health() from public;
grant execute on function ops.events_queue_health() to service_role;

-- Items and ages per topic and status of the events queue. See the header for what age means.
create view public.vw_events_queue_health
with (security_invoker = true)
as
select h.topic, h.status, h.items, h.p95_age_sec, h.oldest_age_sec
from ops.events_queue_health() as h
order by h.topic,
         pg_catalog.array_position(array['queued', 'processing', 'done', 'error'], h.status);

revoke all on public.vw_events_queue_health from public, anon, authenticated, service_role;
grant select on public.vw_events_queue_health to service_role;


-- =============================================================================================
-- public.vw_dead_letter_queue
-- =============================================================================================

-- Every dead-lettered row of both queues, newest first: `queue` names the table (and is what a
-- redrive updates), `failed_at` is when the row was dead-lettered (its last update), `payload`
-- is the job's payload — for discovery items {"interest_id", "user_id"}, whose topic is null.
create view public.vw_dead_letter_queue
with (security_invoker = true)
as
select d.queue, d.id, d.topic, d.attempts, d.last_error, d.failed_at, d.payload
from (
  select 'events_queue'::text as queue, q.id, q.topic, q.attempts, q.last_error,
         q.updated_at as failed_at, q.payload
    from public.events_queue q where q.status = 'error'
  union all
  select 'marketplace_discovery_queue'::text, q.id, null::text, q.attempts, q.last_error,
         q.updated_at,
         pg_catalog.jsonb_build_object('interest_id', q.interest_id, 'user_id', q.user_id)
    from public.marketplace_discovery_queue q where q.status = 'error'
) as d
order by d.failed_at desc, d.queue, d.id desc;

revoke all on public.vw_dead_letter_queue from public, anon, authenticated, service_role;
grant select on public.vw_dead_letter_queue to service_role;
