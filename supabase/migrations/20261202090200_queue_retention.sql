-- Queue retention: done rows and dead letters are deleted by age, per queue
-- (ops.queue_retention; done after 7 days and dead letters after 30 by default), in bounded
-- batches, by the daily maintenance job (`call ops.run_queue_maintenance()`, which keeps its
-- signature and its cron command). Partial indexes on the age column of done rows make each
-- batch an index range read however many rows the table holds. ops.purge_done_jobs, which the
-- maintenance job called before, stays as a done-rows-only batch of the same prune.


-- =============================================================================================
-- ops.queue_retention
-- =============================================================================================

-- How long each queue keeps finished rows. Done rows are history only; dead letters are kept
-- longer because an operator reads them (vw_dead_letter_queue) before redriving or dropping
-- them. Null keeps that kind of row forever. Ages count from updated_at, when the row finished.
-- One row per queue table; the topics of events_queue share its row. The floors stop a typo
-- (`'7'` read as 7 seconds) from deleting a day's history or a dead letter before anyone looked.
create table ops.queue_retention (
  queue text primary key check (queue in ('events_queue', 'marketplace_discovery_queue')),
  done_retention interval default interval '7 days'
    check (done_retention is null or done_retention >= interval '1 hour'),
  dead_letter_retention interval default interval '30 days'
    check (dead_letter_retention is null or dead_letter_retention >= interval '1 day'),
  updated_at timestamptz not null default pg_catalog.now()
);

comment on table ops.queue_retention is
  'Per-queue age after which maintenance deletes done rows and dead letters (null: keep). '
  'Changes are ledgered. docs/queue.md.';

alter table ops.queue_retention enable row level security;
-- The ops tooling (service_role) reads and changes it; stated although service_role bypasses RLS.
create policy queue_retention_service on ops.queue_retention
  for all to service_role using (true) with check (true);
revoke all on ops.queue_retention from public, anon, authenticated, service_role;
-- One row per queue table, added and removed only by migrations.
grant select, update on ops.queue_retention to service_role;

-- ops.learning_settings_touch only stamps updated_at; nothing in it is about learning.
create trigger queue_retention_touch before update on ops.queue_retention
  for each row execute function ops.learning_settings_touch();
-- Every change goes to the action ledger (who, when, before/after, app.reason), as settings
-- changes do elsewhere: these rows decide what history is deleted. The observability settings'
-- ledger trigger is generic (action queue_retention.<op>, target ops.queue_retention:<queue>).
create trigger queue_retention_ledger after insert or update or delete on ops.queue_retention
  for each row execute function ops.observability_config_changed('queue');

select pg_catalog.set_config('app.actor', 'migration:20261202090200', true),
       pg_catalog.set_config('app.reason', 'default queue retention', true);
insert into ops.queue_retention (queue) values ('events_queue'), ('marketplace_discovery_queue');
select pg_catalog.set_config('app.actor', '', true),
       pg_catalog.set_config('app.reason', '', true);


-- =============================================================================================
-- Indexes: done rows by age
-- =============================================================================================

-- The prune's predicate (status = 'done' and updated_at < cutoff, oldest first) read from an
-- index that holds done rows only, so a batch touches the rows it deletes and no others. Each
-- ack adds one entry (an ack is never a HOT update: status is in every partial index's
-- predicate). Dead letters already have theirs (*_dead_letter_idx, updated_at where error).
-- Built without CONCURRENTLY because migrations run in a transaction: on a large queue the build
-- holds off writers for its duration.
create index events_queue_done_idx on public.events_queue (updated_at) where status = 'done';
create index marketplace_discovery_queue_done_idx
  on public.marketplace_discovery_queue (updated_at) where status = 'done';


-- =============================================================================================
-- ops.prune_queues — one bounded batch
-- =============================================================================================

-- Deletes at most p_batch_size rows in all: each queue's done rows and dead letters older than
-- its ops.queue_retention (p_done_older_than, when given, replaces the done retention of both;
-- p_dead_letters false leaves dead letters alone, as ops.purge_done_jobs does), oldest first, in
-- the order events done, events dead, discovery done, discovery dead, each statement taking
-- what the earlier ones left of the batch. Rows another transaction holds are skipped, never
-- waited for. One bounded batch, so the caller can commit between batches and never hold a long
-- transaction or a huge WAL burst. Returns what it deleted of each kind.
create function ops.prune_queues(
  p_batch_size integer default 5000,
  p_done_older_than interval default null,
  p_dead_letters boolean default true
)
returns table (done_pruned integer, dead_pruned integer)
language plpgsql
volatile
set search_path = ''
as $$
declare
  done_after interval;
  dead_after interval;
  n integer;
  done_total integer := 0;
  dead_total integer := 0;
begin
  if p_batch_size is null or p_batch_size not between 1 and 100000 then
    raise exception 'p_batch_size must be between 1 and 100000' using errcode = '22023';
  end if;
  if p_done_older_than < interval '0' then
    raise exception 'p_done_older_than must be a non-negative interval' using errcode = '22023';
  end if;
  if p_dead_letters is null then
    raise exception 'p_dead_letters must be true or false' using errcode = '22023';
  end if;

  -- events_queue
  select coalesce(p_done_older_than, r.done_retention), r.dead_letter_retention
    into done_after, dead_after
    from ops.queue_retention r where r.queue = 'events_queue';
  if done_after is not null and done_total + dead_total < p_batch_size then
    with doomed as (
      select q.id from public.events_queue q
       where q.status = 'done' and q.updated_at < pg_catalog.now() - done_after
       order by q.updated_at
       limit p_batch_size - done_total - dead_total
       for update skip locked
    ), gone as (
      delete from public.events_queue q using doomed d where q.id = d.id returning 1
    )
    select pg_catalog.count(*) into n from gone;
    done_total := done_total + n;
  end if;
  if p_dead_letters and dead_after is not null and done_total + dead_total < p_batch_size then
    with doomed as (
      select q.id from public.events_queue q
       where q.status = 'error' and q.updated_at < pg_catalog.now() - dead_after
       order by q.updated_at
       limit p_batch_size - done_total - dead_total
       for update skip locked
    ), gone as (
      delete from public.events_queue q using doomed d where q.id = d.id returning 1
    )
    select pg_catalog.count(*) into n from gone;
    dead_total := dead_total + n;
  end if;

  -- marketplace_discovery_queue
  select coalesce(p_done_older_than, r.done_retention), r.dead_letter_retention
    into done_after, dead_after
    from ops.queue_retention r where r.queue = 'marketplace_discovery_queue';
  if done_after is not null and done_total + dead_total < p_batch_size then
    with doomed as (
      select q.id from public.marketplace_discovery_queue q
       where q.status = 'done' and q.updated_at < pg_catalog.now() - done_after
       order by q.updated_at
       limit p_batch_size - done_total - dead_total
       for update skip locked
    ), gone as (
      delete from public.marketplace_discovery_queue q using doomed d where q.id = d.id returning 1
    )
    select pg_catalog.count(*) into n from gone;
    done_total := done_total + n;
  end if;
  if p_dead_letters and dead_after is not null and done_total + dead_total < p_batch_size then
    with doomed as (
      select q.id from public.marketplace_discovery_queue q
       where q.status = 'error' and q.updated_at < pg_catalog.now() - dead_after
       order by q.updated_at
       limit p_batch_size - done_total - dead_total
       for update skip locked
    ), gone as (
      delete from public.marketplace_discovery_queue q using doomed d where q.id = d.id returning 1
    )
    select pg_catalog.count(*) into n from gone;
    dead_total := dead_total + n;
  end if;

  return query select done_total, dead_total;
end
$$;
revoke all on function ops.prune_queues(integer, interval, boolean) from public;
grant execute on function ops.prune_queues(integer, interval, boolean) to service_role;


-- =============================================================================================
-- ops.purge_done_jobs — the done-row purge, now one prune_queues batch
-- =============================================================================================

-- Deletes at most p_batch_size done rows (from both queues together, oldest first) whose last
-- update is older than p_older_than, whatever ops.queue_retention says; returns how many. Kept,
-- same signature and result, for operators' SQL written against it; the deleting is
-- prune_queues', so there is one copy of each per-queue statement.
create or replace function ops.purge_done_jobs(
  p_older_than interval default '7 days',
  p_batch_size integer default 5000
)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
begin
  -- prune_queues reads a null as "the settings": this function never did.
  if p_older_than is null or p_older_than < interval '0' then
    raise exception 'p_older_than must be a non-negative interval' using errcode = '22023';
  end if;
  return (select p.done_pruned
            from ops.prune_queues(p_batch_size => p_batch_size, p_done_older_than => p_older_than,
                                  p_dead_letters => false) p);
end
$$;
revoke all on function ops.purge_done_jobs(interval, integer) from public;
grant execute on function ops.purge_done_jobs(interval, integer) to service_role;


-- =============================================================================================
-- ops.run_queue_maintenance — the daily job, now pruning by ops.queue_retention
-- =============================================================================================

-- The daily maintenance job (`call ops.run_queue_maintenance()` at 03:17 UTC): requeue expired
-- leases, then prune done rows and dead letters past their queue's retention in batches of
-- p_batch_size, committing after each batch, up to p_max_batches per run (what is left waits
-- for the next day), and leave one ledger row saying what it removed. p_retention, when given,
-- replaces the done retention of both queues for this run (before per-queue settings it was the
-- only retention, with a default of 7 days, today's default in ops.queue_retention).
-- Same arguments and types as before, so the cron command and callers work unchanged; only
-- p_retention's default changes (null: the settings). A procedure so it can commit; call it
-- at top level, as pg_cron does. No `set search_path` clause: Postgres forbids COMMIT in a
-- procedure that has one. Every name inside is schema-qualified instead, and only postgres may
-- call it.
create or replace procedure ops.run_queue_maintenance(
  p_retention interval default null,
  p_batch_size integer default 5000,
  p_max_batches integer default 200
)
language plpgsql
as $$
declare
  requeued integer;
  pruned record;
  batch integer := 0;
  done_total bigint := 0;
  dead_total bigint := 0;
begin
  if p_max_batches is null or p_max_batches not between 1 and 10000 then
    raise exception 'p_max_batches must be between 1 and 10000' using errcode = '22023';
  end if;
  requeued := public.requeue_expired_leases();
  commit;
  loop
    exit when batch >= p_max_batches;
    select p.done_pruned, p.dead_pruned into pruned
      from ops.prune_queues(p_batch_size, p_retention) p;
    commit;
    done_total := done_total + pruned.done_pruned;
    dead_total := dead_total + pruned.dead_pruned;
    batch := batch + 1;
    exit when pruned.done_pruned + pruned.dead_pruned < p_batch_size;
  end loop;

  perform public.record_ai_action(
    p_action => 'queue.maintenance',
    p_target => 'public.events_queue,public.marketplace_discovery_queue',
    p_before => pg_catalog.jsonb_build_object(
      'retention', (select pg_catalog.jsonb_object_agg(r.queue, pg_catalog.jsonb_build_object(
                      'done', coalesce(p_retention, r.done_retention)::text,
                      'dead_letter', r.dead_letter_retention::text))
                      from ops.queue_retention r),
      'batch_size', p_batch_size, 'max_batches', p_max_batches),
    p_after => pg_catalog.jsonb_build_object(
      'requeued', requeued, 'done_pruned', done_total, 'dead_letters_pruned', dead_total,
      'batches', batch));
  commit;
  raise log 'queue maintenance: % leases requeued, % done and % dead rows pruned, % batches',
    requeued, done_total, dead_total, batch;
end
$$;
revoke all on procedure ops.run_queue_maintenance(interval, integer, integer) from public;
