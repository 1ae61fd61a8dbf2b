-- Discovery, part 2: the queue side (queue migrations 20261122010000…): enqueueing discovery
-- items for a user, the signup trigger that starts it, the interest trigger that queues
-- interests picked later, and the two schedules.
--
--   auth.users insert ──trigger──> events_queue 'discovery.user-signup' {"user_id"}
--     ──queue-worker (cron, every minute)──> enqueue_discovery_for_user(user_id)
--     ──> marketplace_discovery_queue (one item per interest)
--   user_interests insert ──trigger──> marketplace_discovery_queue (one item per new interest)
--     ──rocker-discovery-run (cron, every 5 minutes)──> categories, gaps; then suggestions.


-- =============================================================================================
-- public.enqueue_discovery_for_user
-- =============================================================================================

-- Queues one discovery item per interest of the user, skipping interests that already have an
-- active (queued or processing) item; returns how many it queued (0 for a user without
-- interests, or when everything is already queued). The skip is the queue's partial unique
-- index on active (user_id, interest_id) items, so it also holds between concurrent callers.
-- Errors: null → 22023.
--
-- Invoker rights: service_role (the queue-worker handler) holds the reads and the insert it
-- needs; clients cannot call it.
create function public.enqueue_discovery_for_user(p_user_id uuid)
returns int
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_count int;
begin
  -- GUARD: arguments
  if p_user_id is null then
    raise exception 'p_user_id must not be null' using errcode = '22023';
  end if;

  insert into public.marketplace_discovery_queue (user_id, interest_id)
  select ui.user_id, ui.interest_id
  from public.user_interests ui
  where ui.user_id = p_user_id
  order by ui.interest_id
  on conflict (user_id, interest_id) where status in ('queued', 'processing') do nothing;
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
revoke all on function public.enqueue_discovery_for_user(uuid) from public;
grant execute on function public.enqueue_discovery_for_user(uuid) to service_role;


-- =============================================================================================
-- Interest trigger: user_interests insert → one discovery item per new (user, interest)
-- =============================================================================================

-- Discovers interests picked after the signup job ran (the usual case: a new user has no
-- interests at signup). Every inserted (user_id, interest_id) gets one queued item, skipped
-- when that pair already has an active (queued or processing) item: the same partial unique
-- index and `on conflict do nothing` enqueue_discovery_for_user uses, so it holds under
-- concurrency and against the signup job. Statement-level with a transition table: a bulk
-- insert of N interests is one insert … select into the queue, not N.
--
-- Insert only. interest_id is part of the primary key and users cannot update it (column
-- grant: affinity only); an affinity change does not change which categories serve the
-- interest, so it needs no rediscovery. The runbook's `on conflict do update` puts updated
-- rows in the UPDATE transition set, not this one: re-picking an interest queues nothing new.
--
-- SECURITY DEFINER (owner postgres): the insert into user_interests is usually made by the
-- user themselves (role authenticated, under RLS), and the discovery queue is service_role
-- only. The function writes nothing but queue items for rows the caller was allowed to
-- insert (RLS's with-check already ran); search_path is empty and every name is qualified.
create function ops.discovery_on_user_interests_inserted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  -- Ordered, so concurrent bulk inserts take the unique index's entries in the same order.
  insert into public.marketplace_discovery_queue (user_id, interest_id)
  select n.user_id, n.interest_id
  from new_rows n
  order by n.user_id, n.interest_id
  on conflict (user_id, interest_id) where status in ('queued', 'processing') do nothing;
  return null;
end
$$;
revoke all on function ops.discovery_on_user_interests_inserted() from public;

create trigger discovery_on_user_interests_inserted
  after insert on public.user_interests
  referencing new table as new_rows
  for each statement execute function ops.discovery_on_user_interests_inserted();


-- =============================================================================================
-- Signup trigger: auth.users insert → events_queue 'discovery.user-signup'
-- =============================================================================================

-- Starts discovery for every new user by queueing a 'discovery.user-signup' job with payload
-- {"user_id": …}; the queue-worker's handler for that topic calls enqueue_discovery_for_user.
-- A job, not a direct enqueue: at signup the user has usually not picked interests yet, and the
-- worker runs later (and again on retry); the signup transaction stays one cheap insert. The
-- dedupe key makes a replayed insert (a restored backup, a re-run seed) add no second job while
-- the first is pending.
--
-- SECURITY DEFINER (owner postgres): the trigger runs as whoever inserts into auth.users —
-- GoTrue's supabase_auth_admin on Supabase — which has no rights on public.events_queue or
-- enqueue_event. It only queues a job naming the new row's id; search_path is empty.
--
-- No exception handler, deliberately: if queueing the job fails, the signup insert fails with
-- it (GoTrue answers 500 and the client retries). Swallowing the error would create a user
-- whose discovery silently never starts, with nothing to retry or alert on; a failed signup is
-- visible and retried. enqueue_event fails only on a broken queue, which is an outage anyway.
create function ops.discovery_on_auth_user_created()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform public.enqueue_event(
    p_topic => 'discovery.user-signup',
    p_payload => pg_catalog.jsonb_build_object('user_id', new.id),
    p_dedupe_key => 'discovery.user-signup:' || new.id::text);
  return null;
end
$$;
revoke all on function ops.discovery_on_auth_user_created() from public;

create trigger discovery_on_auth_user_created
  after insert on auth.users
  for each row execute function ops.discovery_on_auth_user_created();


-- =============================================================================================
-- Schedules
-- =============================================================================================

-- queue-worker drains 'discovery.user-signup' every minute (its handler is registered in
-- supabase/functions/queue-worker/registry.ts).
select ops.schedule_queue_topic('discovery.user-signup');

-- rocker-discovery-run every 5 minutes: up to 1,000 items per run (one run handles thousands
-- per second, so a 5-minute backlog of signups clears in one go), leases of 120 s.
select ops.schedule_function(
  job_name => 'rocker-discovery-run',
  schedule => '*/5 * * * *',
  function_name => 'rocker-discovery-run',
  body => '{"limit": 1000, "ttl": 120}'::jsonb);
