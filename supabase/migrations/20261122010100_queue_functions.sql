-- The queue's SQL API: enqueue, lease, ack, fail, release and requeue for both queues, plus the
-- backoff schedule and the done-row purge the maintenance job uses. Workers call these (never
-- the tables directly) with named arguments. None is SECURITY DEFINER: each runs as its caller.
-- EXECUTE is granted to service_role only, so API callers (PostgREST) need the service_role key;
-- the Edge Functions themselves connect with SUPABASE_DB_URL as the database owner (postgres),
-- which owns these functions and tables and so may call them regardless of the grants.
--
-- Guarantees (tested in supabase/tests/queue):
--   * a lease claims with FOR UPDATE SKIP LOCKED, so concurrent workers never claim one row twice;
--   * ack and fail are fenced by the lease's token: a worker whose lease expired, and whose rows
--     another worker has since claimed, changes nothing;
--   * a job is leased at most max_attempts times; then it is dead-lettered (status 'error').


-- =============================================================================================
-- ops.queue_backoff — when a failed job runs again
-- =============================================================================================

-- Capped exponential backoff with "equal jitter": after the n-th failed attempt the job waits
--   e(n) = least(cap, base * 2^(n-1))   then a uniformly random delay in [e(n)/2, e(n)].
-- Defaults: base 10 s, cap 1 h, so the retries of a default job (max_attempts 5) come after
-- ~5-10 s, 10-20 s, 20-40 s and 40-80 s. The jitter spreads a burst of failures (an outage of a
-- downstream API) so the retries do not arrive as one thundering herd; the lower half-bound keeps
-- a retry from coming back immediately.
create function ops.queue_backoff(
  p_attempt integer,
  p_base_seconds double precision default 10,
  p_cap_seconds double precision default 3600
)
returns interval
language sql
volatile -- random()
set search_path = ''
as $$
  select pg_catalog.make_interval(secs => e * (0.5 + 0.5 * pg_catalog.random()))
  from (
    select least(p_cap_seconds,
                 p_base_seconds * pg_catalog.power(2::double precision,
                                                   greatest(coalesce(p_attempt, 1), 1) - 1)) as e
  ) as exponential
$$;
revoke all on function ops.queue_backoff(integer, double precision, double precision) from public;
grant execute on function ops.queue_backoff(integer, double precision, double precision)
  to service_role;


-- =============================================================================================
-- ops.queue_check_lease_args — shared argument guard
-- =============================================================================================

-- Rejects lease arguments outside what the queue-worker accepts, with SQLSTATE 22023 (a 400 in
-- the functions' error table). Limits mirror the worker's: a batch of at most 1000 rows, a lease
-- of 1 s (tests) to 1 h.
create function ops.queue_check_lease_args(p_limit integer, p_ttl_seconds integer)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    raise exception 'p_limit must be between 1 and 1000' using errcode = '22023';
  end if;
  if p_ttl_seconds is null or p_ttl_seconds < 1 or p_ttl_seconds > 3600 then
    raise exception 'p_ttl_seconds must be between 1 and 3600' using errcode = '22023';
  end if;
end
$$;
revoke all on function ops.queue_check_lease_args(integer, integer) from public;
grant execute on function ops.queue_check_lease_args(integer, integer) to service_role;


-- =============================================================================================
-- public.enqueue_event
-- =============================================================================================

-- Adds a job and returns its id. With a dedupe_key that an active (queued or processing) job of
-- the same topic holds, returns that job's id and adds nothing.
create function public.enqueue_event(
  p_topic text,
  p_payload jsonb,
  p_run_at timestamptz default pg_catalog.now(),
  p_dedupe_key text default null,
  p_max_attempts integer default 5,
  p_priority integer default 0
)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
  job_id bigint;
begin
  -- GUARD: arguments, with messages that name them (22023 -> 400).
  if p_topic is null or pg_catalog.length(p_topic) not between 1 and 200 then
    raise exception 'p_topic must be 1 to 200 characters' using errcode = '22023';
  end if;
  if p_payload is null then
    raise exception 'p_payload must not be null' using errcode = '22023';
  end if;
  if p_max_attempts is null or p_max_attempts not between 1 and 100 then
    raise exception 'p_max_attempts must be between 1 and 100' using errcode = '22023';
  end if;
  if p_dedupe_key is not null and pg_catalog.length(p_dedupe_key) not between 1 and 512 then
    raise exception 'p_dedupe_key must be 1 to 512 characters' using errcode = '22023';
  end if;

  -- The loop covers one race: the active job holding our key finishes between the conflict
  -- and the lookup, so the key is free again and the next insert succeeds.
  loop
    insert into public.events_queue (topic, payload, run_at, dedupe_key, max_attempts, priority)
    values (p_topic, p_payload, coalesce(p_run_at, pg_catalog.now()), p_dedupe_key,
            p_max_attempts, coalesce(p_priority, 0))
    on conflict (topic, dedupe_key)
      where dedupe_key is not null and status in ('queued', 'processing')
      do nothing
    returning id into job_id;
    if job_id is not null then
      return job_id;
    end if;

    select q.id into job_id
    from public.events_queue q
    where q.topic = p_topic
      and q.dedupe_key = p_dedupe_key
      and q.status in ('queued', 'processing');
    if job_id is not null then
      return job_id;
    end if;
  end loop;
end
$$;
revoke all on function public.enqueue_event(text, jsonb, timestamptz, text, integer, integer)
  from public, anon, authenticated;
grant execute on function public.enqueue_event(text, jsonb, timestamptz, text, integer, integer)
  to service_role;


-- =============================================================================================
-- public.lease_events / public.lease_discovery
-- =============================================================================================

-- Claims up to p_limit runnable rows — queued with run_at <= now(), or processing with an
-- expired lease — in (priority, run_at, id) order, for p_ttl_seconds, under one fresh lease
-- token; returns them in that order with attempts already counting this lease.
--
-- Each kind of runnable row is read from its own partial index with its own LIMIT and
-- SKIP LOCKED, then the two are merged, so a claim costs the same with 10 or 10 million done
-- rows in the table. Rows another transaction is claiming are skipped, never waited on.
--
-- An expired row that has already used all its attempts (its worker died on the final one) is
-- dead-lettered here instead of being handed out again; it is not returned.
create function public.lease_events(
  p_topic text,
  p_limit integer,
  p_ttl_seconds integer,
  p_worker text default null
)
returns setof public.events_queue
language plpgsql
volatile
set search_path = ''
as $$
declare
  token constant uuid := pg_catalog.gen_random_uuid();
begin
  perform ops.queue_check_lease_args(p_limit, p_ttl_seconds);

  return query
  with runnable_queued as (
    select q.id, q.priority, q.run_at
      from public.events_queue q
     where q.topic = p_topic and q.status = 'queued' and q.run_at <= pg_catalog.now()
     order by q.priority, q.run_at, q.id
     limit p_limit
     for update skip locked
  ),
  runnable_expired as (
    select q.id, q.priority, q.run_at
      from public.events_queue q
     where q.topic = p_topic and q.status = 'processing' and q.lease_expires_at < pg_catalog.now()
     order by q.priority, q.run_at, q.id
     limit p_limit
     for update skip locked
  ),
  candidates as (
    select * from runnable_queued
    union all
    select * from runnable_expired
  ),
  claimed as (
    update public.events_queue q
       set status = case when q.attempts >= q.max_attempts then 'error' else 'processing' end,
           attempts = case when q.attempts >= q.max_attempts then q.attempts
                           else q.attempts + 1 end,
           lease_token = case when q.attempts >= q.max_attempts then null else token end,
           lease_expires_at = case when q.attempts >= q.max_attempts then null
                                   else pg_catalog.now()
                                        + pg_catalog.make_interval(secs => p_ttl_seconds) end,
           leased_by = case when q.attempts >= q.max_attempts then q.leased_by else p_worker end,
           last_error = case when q.attempts >= q.max_attempts
                             then 'lease expired on the final attempt (worker lost)'
                             else q.last_error end,
           updated_at = pg_catalog.now()
     where q.id in (select c.id from candidates c
                    order by c.priority, c.run_at, c.id
                    limit p_limit)
    returning q.*
  )
  select * from claimed c where c.status = 'processing'
  order by c.priority, c.run_at, c.id;
end
$$;
revoke all on function public.lease_events(text, integer, integer, text)
  from public, anon, authenticated;
grant execute on function public.lease_events(text, integer, integer, text) to service_role;

-- lease_events for the discovery queue (no topic).
create function public.lease_discovery(
  p_limit integer,
  p_ttl_seconds integer,
  p_worker text default null
)
returns setof public.marketplace_discovery_queue
language plpgsql
volatile
set search_path = ''
as $$
declare
  token constant uuid := pg_catalog.gen_random_uuid();
begin
  perform ops.queue_check_lease_args(p_limit, p_ttl_seconds);

  return query
  with runnable_queued as (
    select q.id, q.priority, q.run_at
      from public.marketplace_discovery_queue q
     where q.status = 'queued' and q.run_at <= pg_catalog.now()
     order by q.priority, q.run_at, q.id
     limit p_limit
     for update skip locked
  ),
  runnable_expired as (
    select q.id, q.priority, q.run_at
      from public.marketplace_discovery_queue q
     where q.status = 'processing' and q.lease_expires_at < pg_catalog.now()
     order by q.priority, q.run_at, q.id
     limit p_limit
     for update skip locked
  ),
  candidates as (
    select * from runnable_queued
    union all
    select * from runnable_expired
  ),
  claimed as (
    update public.marketplace_discovery_queue q
       set status = case when q.attempts >= q.max_attempts then 'error' else 'processing' end,
           attempts = case when q.attempts >= q.max_attempts then q.attempts
                           else q.attempts + 1 end,
           lease_token = case when q.attempts >= q.max_attempts then null else token end,
           lease_expires_at = case when q.attempts >= q.max_attempts then null
                                   else pg_catalog.now()
                                        + pg_catalog.make_interval(secs => p_ttl_seconds) end,
           leased_by = case when q.attempts >= q.max_attempts then q.leased_by else p_worker end,
           last_error = case when q.attempts >= q.max_attempts
                             then 'lease expired on the final attempt (worker lost)'
                             else q.last_error end,
           updated_at = pg_catalog.now()
     where q.id in (select c.id from candidates c
                    order by c.priority, c.run_at, c.id
                    limit p_limit)
    returning q.*
  )
  select * from claimed c where c.status = 'processing'
  order by c.priority, c.run_at, c.id;
end
$$;
revoke all on function public.lease_discovery(integer, integer, text)
  from public, anon, authenticated;
grant execute on function public.lease_discovery(integer, integer, text) to service_role;


-- =============================================================================================
-- public.ack_events / public.ack_discovery
-- =============================================================================================

-- Marks the given rows done — only those still processing under p_lease_token (the fence).
-- Returns how many it changed; fewer than asked means some leases were lost (expired and
-- re-claimed), and those rows belong to another worker now. A late ack on a lease that expired
-- but was not re-claimed still counts: the work was done, and nobody else holds the row.
-- plpgsql rather than sql (here and in fail_*): plpgsql keeps the UPDATE's plan for the
-- session, a sql function plans it again on every call (~0.4 ms of a 3 ms ack of 100 rows).
create function public.ack_events(p_ids bigint[], p_lease_token uuid)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  changed integer;
begin
  update public.events_queue q
     set status = 'done', lease_expires_at = null, updated_at = pg_catalog.now()
   where q.id = any(p_ids) and q.status = 'processing' and q.lease_token = p_lease_token;
  get diagnostics changed = row_count;
  return changed;
end
$$;
revoke all on function public.ack_events(bigint[], uuid) from public, anon, authenticated;
grant execute on function public.ack_events(bigint[], uuid) to service_role;

-- The discovery queue's ack: the same fenced contract as ack_events, on its own table.
create function public.ack_discovery(p_ids bigint[], p_lease_token uuid)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  changed integer;
begin
  update public.marketplace_discovery_queue q
     set status = 'done', lease_expires_at = null, updated_at = pg_catalog.now()
   where q.id = any(p_ids) and q.status = 'processing' and q.lease_token = p_lease_token;
  get diagnostics changed = row_count;
  return changed;
end
$$;
revoke all on function public.ack_discovery(bigint[], uuid) from public, anon, authenticated;
grant execute on function public.ack_discovery(bigint[], uuid) to service_role;


-- =============================================================================================
-- public.fail_events / public.fail_discovery
-- =============================================================================================

-- Records a failed attempt for the given rows (fenced like ack): back to queued with
-- run_at = now() + ops.queue_backoff(attempts), or — when the attempt was the last one — to
-- 'error', the dead-letter queue. last_error keeps the (truncated) error either way.
-- Returns how many rows it changed.
create function public.fail_events(p_ids bigint[], p_lease_token uuid, p_error text)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  changed integer;
begin
  update public.events_queue q
     set status = case when q.attempts >= q.max_attempts then 'error' else 'queued' end,
         run_at = case when q.attempts >= q.max_attempts then q.run_at
                       else pg_catalog.now() + ops.queue_backoff(q.attempts) end,
         lease_token = null,
         lease_expires_at = null,
         -- Errors can carry stack traces; 4000 characters is plenty to diagnose one.
         last_error = pg_catalog.left(coalesce(p_error, 'unknown error'), 4000),
         updated_at = pg_catalog.now()
   where q.id = any(p_ids) and q.status = 'processing' and q.lease_token = p_lease_token;
  get diagnostics changed = row_count;
  return changed;
end
$$;
revoke all on function public.fail_events(bigint[], uuid, text) from public, anon, authenticated;
grant execute on function public.fail_events(bigint[], uuid, text) to service_role;

-- The discovery queue's fail: the same backoff and dead-lettering as fail_events.
create function public.fail_discovery(p_ids bigint[], p_lease_token uuid, p_error text)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  changed integer;
begin
  update public.marketplace_discovery_queue q
     set status = case when q.attempts >= q.max_attempts then 'error' else 'queued' end,
         run_at = case when q.attempts >= q.max_attempts then q.run_at
                       else pg_catalog.now() + ops.queue_backoff(q.attempts) end,
         lease_token = null,
         lease_expires_at = null,
         last_error = pg_catalog.left(coalesce(p_error, 'unknown error'), 4000),
         updated_at = pg_catalog.now()
   where q.id = any(p_ids) and q.status = 'processing' and q.lease_token = p_lease_token;
  get diagnostics changed = row_count;
  return changed;
end
$$;
revoke all on function public.fail_discovery(bigint[], uuid, text)
  from public, anon, authenticated;
grant execute on function public.fail_discovery(bigint[], uuid, text) to service_role;


-- =============================================================================================
-- public.release_events / public.release_discovery
-- =============================================================================================

-- Hands leased rows that the worker never started back to the queue (fenced like ack): status
-- 'queued', lease cleared, run_at kept (so they keep their place in line), and the attempt the
-- lease took given back (attempts - 1), since nothing ran. A worker calls it for the rest of a
-- batch when its time budget or the safe part of its lease runs out before it could start them.
-- Returns how many rows it changed.
create function public.release_events(p_ids bigint[], p_lease_token uuid)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  changed integer;
begin
  update public.events_queue q
     set status = 'queued',
         attempts = greatest(q.attempts - 1, 0),
         lease_token = null,
         lease_expires_at = null,
         updated_at = pg_catalog.now()
   where q.id = any(p_ids) and q.status = 'processing' and q.lease_token = p_lease_token;
  get diagnostics changed = row_count;
  return changed;
end
$$;
revoke all on function public.release_events(bigint[], uuid) from public, anon, authenticated;
grant execute on function public.release_events(bigint[], uuid) to service_role;

-- The discovery queue's release: hands back unstarted rows, as release_events does.
create function public.release_discovery(p_ids bigint[], p_lease_token uuid)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  changed integer;
begin
  update public.marketplace_discovery_queue q
     set status = 'queued',
         attempts = greatest(q.attempts - 1, 0),
         lease_token = null,
         lease_expires_at = null,
         updated_at = pg_catalog.now()
   where q.id = any(p_ids) and q.status = 'processing' and q.lease_token = p_lease_token;
  get diagnostics changed = row_count;
  return changed;
end
$$;
revoke all on function public.release_discovery(bigint[], uuid)
  from public, anon, authenticated;
grant execute on function public.release_discovery(bigint[], uuid) to service_role;


-- =============================================================================================
-- public.requeue_expired_leases
-- =============================================================================================

-- Puts every processing row whose lease has expired, in both queues, back to queued (or, when
-- it has used all its attempts, into the dead-letter queue). Leasing already reclaims expired
-- rows by itself; this is for the maintenance job and for operators, so expired rows do not sit
-- as 'processing' in the health views while no worker runs their queue. Rows locked by a
-- concurrent lease are skipped: that lease is reclaiming them anyway. Returns rows changed.
create function public.requeue_expired_leases()
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  events_changed integer;
  discovery_changed integer;
begin
  with expired as (
    select q.id from public.events_queue q
     where q.status = 'processing' and q.lease_expires_at < pg_catalog.now()
     for update skip locked
  ), changed as (
    update public.events_queue q
       set status = case when q.attempts >= q.max_attempts then 'error' else 'queued' end,
           last_error = case when q.attempts >= q.max_attempts
                             then 'lease expired on the final attempt (worker lost)'
                             else q.last_error end,
           lease_token = null,
           lease_expires_at = null,
           updated_at = pg_catalog.now()
      from expired e
     where q.id = e.id
    returning 1
  )
  select pg_catalog.count(*) into events_changed from changed;

  with expired as (
    select q.id from public.marketplace_discovery_queue q
     where q.status = 'processing' and q.lease_expires_at < pg_catalog.now()
     for update skip locked
  ), changed as (
    update public.marketplace_discovery_queue q
       set status = case when q.attempts >= q.max_attempts then 'error' else 'queued' end,
           last_error = case when q.attempts >= q.max_attempts
                             then 'lease expired on the final attempt (worker lost)'
                             else q.last_error end,
           lease_token = null,
           lease_expires_at = null,
           updated_at = pg_catalog.now()
      from expired e
     where q.id = e.id
    returning 1
  )
  select pg_catalog.count(*) into discovery_changed from changed;

  return events_changed + discovery_changed;
end
$$;
revoke all on function public.requeue_expired_leases() from public, anon, authenticated;
grant execute on function public.requeue_expired_leases() to service_role;


-- =============================================================================================
-- ops.purge_done_jobs / ops.run_queue_maintenance
-- =============================================================================================

-- Deletes at most p_batch_size done rows (from both queues together) whose last update is older
-- than p_older_than; returns how many. One bounded batch, so the caller can commit between
-- batches and never hold a long transaction or a huge WAL burst.
create function ops.purge_done_jobs(
  p_older_than interval default '7 days',
  p_batch_size integer default 5000
)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  from_events integer;
  from_discovery integer;
begin
  if p_older_than is null or p_older_than < interval '0' then
    raise exception 'p_older_than must be a non-negative interval' using errcode = '22023';
  end if;
  if p_batch_size is null or p_batch_size not between 1 and 100000 then
    raise exception 'p_batch_size must be between 1 and 100000' using errcode = '22023';
  end if;

  with doomed as (
    select q.id from public.events_queue q
     where q.status = 'done' and q.updated_at < pg_catalog.now() - p_older_than
     limit p_batch_size
     for update skip locked
  ), gone as (
    delete from public.events_queue q using doomed d where q.id = d.id returning 1
  )
  select pg_catalog.count(*) into from_events from gone;

  with doomed as (
    select q.id from public.marketplace_discovery_queue q
     where q.status = 'done' and q.updated_at < pg_catalog.now() - p_older_than
     limit greatest(p_batch_size - from_events, 0)
     for update skip locked
  ), gone as (
    delete from public.marketplace_discovery_queue q using doomed d where q.id = d.id returning 1
  )
  select pg_catalog.count(*) into from_discovery from gone;

  return from_events + from_discovery;
end
$$;
revoke all on function ops.purge_done_jobs(interval, integer) from public;
grant execute on function ops.purge_done_jobs(interval, integer) to service_role;

-- The daily maintenance job (scheduled in the queue_scheduling migration): requeue expired
-- leases, then purge done rows past the retention in batches, committing after each batch, up
-- to p_max_batches per run (what is left waits for the next day). A procedure so it can commit;
-- call it at top level (`call ops.run_queue_maintenance();`), as pg_cron does.
-- No `set search_path` clause: Postgres forbids COMMIT in a procedure that has one. Every name
-- inside is schema-qualified instead, and only postgres may call it.
create procedure ops.run_queue_maintenance(
  p_retention interval default '7 days',
  p_batch_size integer default 5000,
  p_max_batches integer default 200
)
language plpgsql
as $$
declare
  requeued integer;
  purged integer;
  batch integer := 0;
  total integer := 0;
begin
  requeued := public.requeue_expired_leases();
  commit;
  loop
    exit when batch >= p_max_batches;
    purged := ops.purge_done_jobs(p_retention, p_batch_size);
    commit;
    total := total + purged;
    batch := batch + 1;
    exit when purged < p_batch_size;
  end loop;
  raise log 'queue maintenance: % expired leases requeued, % done rows purged in % batches',
    requeued, total, batch;
end
$$;
revoke all on procedure ops.run_queue_maintenance(interval, integer, integer) from public;
