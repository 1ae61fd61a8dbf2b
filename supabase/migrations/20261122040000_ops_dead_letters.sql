-- =============================================================================================
-- Dead-letter operations for the runbook: put dead-lettered jobs back in line once their cause
-- is fixed, or purge them. The ops CLI (`deno task ops dlq …`) calls these; an operator can
-- also run them from the SQL editor. Each call leaves a row in public.ai_action_ledger.
-- Internal machinery (schema ops): only the owner runs them, no API role may.
-- =============================================================================================

-- Requeues dead-lettered rows (all, or just p_ids) with a fresh attempt budget. A row whose
-- dedupe identity is already held by an active row is left dead: requeueing it would run the
-- same work twice (and violate the active-dedupe unique index). Returns how many moved.
create or replace function ops.redrive_dead_letters(
  p_queue text,
  p_ids bigint[] default null,
  p_reason text default null
)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  moved integer;
begin
  if p_queue = 'events_queue' then
    with candidates as (
      -- One row per dedupe identity (the newest), so two dead copies cannot collide.
      select distinct on (q.topic, coalesce(q.dedupe_key, q.id::text)) q.id
        from public.events_queue q
       where q.status = 'error'
         and (p_ids is null or q.id = any (p_ids))
         and (q.dedupe_key is null or not exists (
               select 1 from public.events_queue a
                where a.topic = q.topic and a.dedupe_key = q.dedupe_key
                  and a.status in ('queued', 'processing')))
       order by q.topic, coalesce(q.dedupe_key, q.id::text), q.id desc
    )
    update public.events_queue q
       set status = 'queued', attempts = 0, run_at = pg_catalog.now(), lease_token = null,
           lease_expires_at = null, leased_by = null, updated_at = pg_catalog.now()
      from candidates c
     where q.id = c.id;
    get diagnostics moved = row_count;
  elsif p_queue = 'marketplace_discovery_queue' then
    with candidates as (
      select distinct on (q.user_id, q.interest_id) q.id
        from public.marketplace_discovery_queue q
       where q.status = 'error'
         and (p_ids is null or q.id = any (p_ids))
         and not exists (
               select 1 from public.marketplace_discovery_queue a
                where a.user_id is not distinct from q.user_id
                  and a.interest_id = q.interest_id
                  and a.status in ('queued', 'processing'))
       order by q.user_id, q.interest_id, q.id desc
    )
    update public.marketplace_discovery_queue q
       set status = 'queued', attempts = 0, run_at = pg_catalog.now(), lease_token = null,
           lease_expires_at = null, leased_by = null, updated_at = pg_catalog.now()
      from candidates c
     where q.id = c.id;
    get diagnostics moved = row_count;
  else
    raise exception 'unknown queue: % (expected events_queue or marketplace_discovery_queue)',
      p_queue using errcode = '22023';
  end if;

  perform public.record_ai_action(
    'queue.redrive_dead_letters', 'public.' || p_queue,
    pg_catalog.jsonb_build_object('ids', p_ids), pg_catalog.jsonb_build_object('moved', moved),
    p_reason);
  return moved;
end
$$;
revoke all on function ops.redrive_dead_letters(text, bigint[], text) from public;

-- Deletes dead-lettered rows that have sat in the DLQ longer than p_older_than (by their last
-- update, when they failed for good). Returns how many were deleted.
create or replace function ops.purge_dead_letters(
  p_queue text,
  p_older_than interval default interval '7 days',
  p_reason text default null
)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  purged integer;
begin
  if p_older_than is null or p_older_than < interval '0' then
    raise exception 'p_older_than must be a non-negative interval' using errcode = '22023';
  end if;
  if p_queue = 'events_queue' then
    delete from public.events_queue
     where status = 'error' and updated_at < pg_catalog.now() - p_older_than;
  elsif p_queue = 'marketplace_discovery_queue' then
    delete from public.marketplace_discovery_queue
     where status = 'error' and updated_at < pg_catalog.now() - p_older_than;
  else
    raise exception 'unknown queue: % (expected events_queue or marketplace_discovery_queue)',
      p_queue using errcode = '22023';
  end if;
  get diagnostics purged = row_count;

  perform public.record_ai_action(
    'queue.purge_dead_letters', 'public.' || p_queue,
    pg_catalog.jsonb_build_object('older_than', p_older_than::text),
    pg_catalog.jsonb_build_object('purged', purged), p_reason);
  return purged;
end
$$;
revoke all on function ops.purge_dead_letters(text, interval, text) from public;
