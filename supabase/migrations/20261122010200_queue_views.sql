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
-- p95_age_sec is percentile_cont(0.95) of the ages (linear interpolation between the two
-- nearest ranks), oldest_age_sec their maximum.
--
-- Cost: queued, processing and error rows are read through their partial indexes, so the views
-- cost the same however many done rows the tables hold. Queued rows, the ones that pile up when
-- workers fall behind (100,000 is a normal backlog), are never sorted: the *_queued_since_idx
-- indexes keep them in runnable-since order, so `items` is an index-only count and the oldest
-- and 95th-percentile ages are the entries at offsets 0 and ~5 % of the aged rows. Processing
-- rows (bounded by the workers' batches) and error rows (the dead-letter queue) are few and are
-- aggregated directly. The done count is exact while a table is small (< 8 MiB) and above that
-- an estimate, as DESIGN §5 asks of health views: pg_class.reltuples times the done share of a
-- block sample (TABLESAMPLE SYSTEM, ~200 pages).
--
-- The health functions run with max_parallel_workers_per_gather = 0 and jit = off: their scans
-- are short, parallel workers would only compete with the queue's own work for the same cores,
-- and the per-topic subqueries' summed cost estimate crosses jit_above_cost, which cost ~500 ms
-- of LLVM compilation on every call with a 100,000-row backlog.


-- =============================================================================================
-- ops.queue_done_sample_percent — how much of a large table the done estimate samples
-- =============================================================================================

-- The TABLESAMPLE SYSTEM percentage that reads about 200 pages of `rel` (all of it when smaller):
-- ~15,000 rows, enough for a per-topic share within a few percent. The pages are random, so
-- most come from outside shared_buffers: measured on 2 cores with 1M done rows, 200 pages cost
-- ~7 ms and 500 pages ~25 ms, half of the views' 50 ms budget.
create function ops.queue_done_sample_percent(rel regclass)
returns double precision
language sql
stable
set search_path = ''
as $$
  select least(100, 100.0 * 200 / greatest(c.relpages, 1))::double precision
  from pg_catalog.pg_class c where c.oid = rel
$$;
revoke all on function ops.queue_done_sample_percent(regclass) from public;
grant execute on function ops.queue_done_sample_percent(regclass) to service_role;


-- =============================================================================================
-- ops.queue_p95_offset / ops.queue_p95_age — the 95th percentile read off an ordered index
-- =============================================================================================

-- percentile_cont(0.95) over n ages sorted ascending interpolates between ranks lo = floor(pos)
-- and hi = ceil(pos), pos = 0.95 * (n - 1) (0-based). Read oldest first (age descending, the
-- runnable-since index order), rank hi is at offset n - 1 - hi and rank lo right after it. This
-- is that offset; the caller reads two entries from there (oldest first) and hands their ages to
-- ops.queue_p95_age. Null when n = 0. (Callers select only the index's runnable-since value in
-- the offset scan and compute ages from the two rows they keep: the rows an OFFSET skips are
-- still projected.)
create function ops.queue_p95_offset(p_aged bigint)
returns bigint
language sql
immutable
set search_path = ''
as $$
  select case when p_aged > 0
              then p_aged - 1 - pg_catalog.ceil(0.95::double precision * (p_aged - 1))::bigint
         end
$$;
revoke all on function ops.queue_p95_offset(bigint) from public;
grant execute on function ops.queue_p95_offset(bigint) to service_role;

-- The 95th percentile from the (at most) two ages read at ops.queue_p95_offset, oldest first:
-- p_ages[1] is rank hi, p_ages[2] rank lo. Computed exactly as percentile_cont does
-- (first + (second - first) * fraction, in double precision), rounded to milliseconds; 0 when
-- there are no ages (n = 0), as for the other statuses.
create function ops.queue_p95_age(p_aged bigint, p_ages double precision[])
returns numeric
language sql
immutable
set search_path = ''
as $$
  select coalesce(pg_catalog.round((
           case when p_aged <= 0 then null
                when pg_catalog.floor(x.pos) = pg_catalog.ceil(x.pos) then p_ages[1]
                else x.lo_age + (p_ages[1] - x.lo_age) * (x.pos - pg_catalog.floor(x.pos))
           end)::numeric, 3), 0)
  from (select 0.95::double precision * (p_aged - 1) as pos,
               -- Defensive: a caller that counted in another snapshot may read one row short.
               coalesce(p_ages[2], p_ages[1]) as lo_age) as x
$$;
revoke all on function ops.queue_p95_age(bigint, double precision[]) from public;
grant execute on function ops.queue_p95_age(bigint, double precision[]) to service_role;


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
set max_parallel_workers_per_gather = 0
set jit = off
as $$
declare
  -- Below this size counting done rows exactly is cheap; above it, estimate.
  exact_count_max_bytes constant bigint := 8 * 1024 * 1024;
  rel constant regclass := 'public.marketplace_discovery_queue'::regclass;
  sample_percent double precision;
  table_rows real;
  done_items bigint;
begin
  -- Queued: two index-only counts over marketplace_discovery_queue_queued_since_idx (rows
  -- runnable by now, the aged ones, and rows scheduled later; a range each, so no per-row
  -- filter), then the oldest entry and the two at the 95th percentile's ranks, read oldest
  -- first. One statement, so the counts and the offsets see the same rows.
  return query
  with counts as materialized ( -- computed once, not once per use of its columns
    select (select pg_catalog.count(*) from public.marketplace_discovery_queue q
             where q.status = 'queued'
               and greatest(q.run_at, q.created_at) <= pg_catalog.now()) as aged,
           (select pg_catalog.count(*) from public.marketplace_discovery_queue q
             where q.status = 'queued'
               and greatest(q.run_at, q.created_at) > pg_catalog.now()) as scheduled
  )
  select 'queued'::text, c.aged + c.scheduled,
         ops.queue_p95_age(c.aged, (
           select pg_catalog.array_agg(
                    extract(epoch from pg_catalog.now() - r.since)::double precision
                    order by r.since)
             from (select greatest(q.run_at, q.created_at) as since
                     from public.marketplace_discovery_queue q
                    where q.status = 'queued'
                      and greatest(q.run_at, q.created_at) <= pg_catalog.now()
                    order by greatest(q.run_at, q.created_at)
                   offset ops.queue_p95_offset(c.aged)
                    limit 2) as r)),
         coalesce((
           select pg_catalog.round(extract(epoch from pg_catalog.now() - o.since), 3)
             from (select greatest(q.run_at, q.created_at) as since
                     from public.marketplace_discovery_queue q
                    where q.status = 'queued'
                      and greatest(q.run_at, q.created_at) <= pg_catalog.now()
                    order by greatest(q.run_at, q.created_at)
                    limit 1) as o), 0)
    from counts c;

  -- Processing and error rows are few: aggregate them as they are.
  return query
  select s.status, pg_catalog.count(a.status),
         coalesce(pg_catalog.round((pg_catalog.percentile_cont(0.95)
                                    within group (order by a.age))::numeric, 3), 0),
         coalesce(pg_catalog.round(pg_catalog.max(a.age)::numeric, 3), 0)
  from (values (2, 'processing'), (4, 'error')) as s(ord, status)
  left join (
    select q.status, extract(epoch from pg_catalog.now() - greatest(q.run_at, q.created_at))
           as age
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
set max_parallel_workers_per_gather = 0
set jit = off
as $$
declare
  exact_count_max_bytes constant bigint := 8 * 1024 * 1024;
  rel constant regclass := 'public.events_queue'::regclass;
  sample_percent double precision;
  table_rows real;
begin
  -- Queued, per topic: the topics present (a loose index scan: one index probe per topic), then
  -- per topic two index-only counts over events_queue_queued_since_idx — rows runnable by now
  -- (the aged ones) and rows scheduled later — the oldest entry, and the two entries at the
  -- 95th percentile's ranks, read oldest first. One statement, so all of it sees the same rows.
  return query
  with recursive topics as (
    (select q.topic from public.events_queue q
      where q.status = 'queued' order by q.topic limit 1)
    union all
    select (select q.topic from public.events_queue q
             where q.status = 'queued' and q.topic > t.topic order by q.topic limit 1)
      from topics t
     where t.topic is not null
  ), counts as materialized ( -- computed once, not once per use of its columns
    select t.topic,
           (select pg_catalog.count(*) from public.events_queue q
             where q.status = 'queued' and q.topic = t.topic
               and greatest(q.run_at, q.created_at) <= pg_catalog.now()) as aged,
           (select pg_catalog.count(*) from public.events_queue q
             where q.status = 'queued' and q.topic = t.topic
               and greatest(q.run_at, q.created_at) > pg_catalog.now()) as scheduled
      from topics t
     where t.topic is not null
  )
  select c.topic, 'queued'::text, c.aged + c.scheduled,
         ops.queue_p95_age(c.aged, (
           select pg_catalog.array_agg(
                    extract(epoch from pg_catalog.now() - r.since)::double precision
                    order by r.since)
             from (select greatest(q.run_at, q.created_at) as since
                     from public.events_queue q
                    where q.status = 'queued' and q.topic = c.topic
                      and greatest(q.run_at, q.created_at) <= pg_catalog.now()
                    order by greatest(q.run_at, q.created_at)
                   offset ops.queue_p95_offset(c.aged)
                    limit 2) as r)),
         coalesce((
           select pg_catalog.round(extract(epoch from pg_catalog.now() - o.since), 3)
             from (select greatest(q.run_at, q.created_at) as since
                     from public.events_queue q
                    where q.status = 'queued' and q.topic = c.topic
                      and greatest(q.run_at, q.created_at) <= pg_catalog.now()
                    order by greatest(q.run_at, q.created_at)
                    limit 1) as o), 0)
    from counts c;

  -- Processing and error rows are few: aggregate them as they are.
  return query
  select a.topic, a.status, pg_catalog.count(*),
         coalesce(pg_catalog.round((pg_catalog.percentile_cont(0.95)
                                    within group (order by a.age))::numeric, 3), 0),
         coalesce(pg_catalog.round(pg_catalog.max(a.age)::numeric, 3), 0)
  from (
    select q.topic, q.status,
           extract(epoch from pg_catalog.now() - greatest(q.run_at, q.created_at)) as age
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
    -- Each topic's done rows: its share of the sampled rows, scaled to the table's row count
    -- (one pass over the sample, hashed by topic).
    return query
    select s.topic, 'done'::text,
           pg_catalog.round(table_rows * s.done / pg_catalog.sum(s.sampled) over ())::bigint,
           null::numeric, null::numeric
      from (select q.topic,
                   pg_catalog.count(*) filter (where q.status = 'done') as done,
                   pg_catalog.count(*) as sampled
              from public.events_queue q tablesample system (sample_percent)
             group by q.topic) as s
     where s.done > 0;
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
