-- Fan-out of worker calls, part 2: the dispatcher and the schedules that run it. A worker's cron
-- job used to post one call per tick, so a topic drained at one call's pace however large its
-- backlog grew. Its command is now one call of ops.dispatch_worker, which counts the runnable
-- backlog, divides it by what one call does in its budget at the rate recent calls measured,
-- and posts that many calls at once (none when nothing is runnable), within the topic's
-- max_parallel and the global ceiling. Leases keep overlapping calls correct (SKIP LOCKED
-- claims, token-fenced acks). The queue-worker topics and rocker-discovery-run are rescheduled
-- onto it, keeping their names, schedules and bodies. docs/queue.md, "Scaling out".


-- =============================================================================================
-- ops.dispatch_target — which queue a worker call drains, and how much one call may take
-- =============================================================================================

-- For job p_job_name's calls of p_path (/functions/v1/queue-worker or
-- /functions/v1/rocker-discovery-run) with body p_body and pg_net timeout
-- p_timeout_milliseconds: the dispatch topic (the events topic the body names, or
-- 'marketplace_discovery_queue') and the call's job limit (the body's `limit`, else the
-- workers' default 100). A queue-worker topic may not be named 'marketplace_discovery_queue':
-- its calls would be counted, sized and recorded as the discovery queue's. Raises 22023 for anything a job or worker would refuse; the scheduler
-- and every tick check with it, so a schedule fails when it is made rather than once a minute.
create function ops.dispatch_target(
  p_job_name text,
  p_path text,
  p_body jsonb,
  p_timeout_milliseconds integer
)
returns table (topic text, call_limit integer)
language plpgsql
immutable
set search_path = ''
as $$
declare
  function_name text := (pg_catalog.regexp_match(
    p_path, '^/functions/v1/([a-z0-9][a-z0-9_-]{0,62})$'))[1];
  limit_text text;
begin
  if p_job_name is null or pg_catalog.length(p_job_name) not between 1 and 200 then
    raise exception 'p_job_name must be 1 to 200 characters' using errcode = '22023';
  end if;
  if p_timeout_milliseconds is null or p_timeout_milliseconds not between 1000 and 600000 then
    raise exception 'p_timeout_milliseconds must be between 1000 and 600000'
      using errcode = '22023';
  end if;
  if p_body is null or pg_catalog.jsonb_typeof(p_body) <> 'object' then
    raise exception 'p_body must be a JSON object' using errcode = '22023';
  end if;
  limit_text := p_body ->> 'limit';
  call_limit := case when limit_text is null then 100
                     when limit_text ~ '^[0-9]{1,4}$' then limit_text::int
                     else 0 end;
  if call_limit not between 1 and 1000 then
    raise exception 'p_body limit must be an integer between 1 and 1000' using errcode = '22023';
  end if;

  if function_name = 'queue-worker' then
    topic := p_body ->> 'topic';
    if topic is null or pg_catalog.length(topic) not between 1 and 200 then
      raise exception 'p_body must name a topic of 1 to 200 characters' using errcode = '22023';
    end if;
    if topic = 'marketplace_discovery_queue' then
      raise exception 'p_body topic marketplace_discovery_queue is reserved for rocker-discovery-run'
        using errcode = '22023';
    end if;
  elsif function_name = 'rocker-discovery-run' then
    topic := 'marketplace_discovery_queue';
  else
    raise exception 'p_path must be /functions/v1/queue-worker or /functions/v1/rocker-discovery-run'
      using errcode = '22023';
  end if;
  return next;
end
$$;
revoke all on function ops.dispatch_target(text, text, jsonb, integer) from public;


-- =============================================================================================
-- ops.queue_runnable_backlog — rows a lease could claim now
-- =============================================================================================

-- Rows of p_topic's queue that a lease would claim now (queued and due, or processing with an
-- expired lease: the lease functions' two predicates), counted up to p_cap so a backlog of
-- millions costs a bounded index scan. p_topic 'marketplace_discovery_queue' is the discovery
-- queue; anything else is an events topic. The two branches are the per-queue twins of one
-- count, each with its own plan.
-- Queued rows are counted as due by greatest(run_at, created_at) <= now(), not run_at <= now():
-- the *_queued_since_idx indexes hold that expression, so the scan stops at now() and rows due
-- later (a million delayed jobs) are never read, where the claim index, ordered by priority
-- first, would walk every queued row of the topic to test run_at. The two predicates agree for
-- every row inserted before the tick (created_at <= now()). Expired leases come from the
-- *_lease_expiry_idx indexes, bounded the same way by lease_expires_at.
-- Sequential and bitmap scans are off for these two counts: the planner has no statistics for
-- greatest(run_at, created_at) (a partial index's expression statistics are not used for
-- estimates), guesses a third of the queued rows are due, and would then pick a sequential
-- scan, which reads every delayed row, or a bitmap scan, which reads every due entry past the
-- cap. Each count has an index that bounds it, so an index scan is always the right plan.
create function ops.queue_runnable_backlog(p_topic text, p_cap integer)
returns bigint
language plpgsql
stable
set search_path = ''
set enable_seqscan = off
set enable_bitmapscan = off
as $$
declare
  queued bigint;
  expired bigint;
begin
  if p_topic = 'marketplace_discovery_queue' then
    select pg_catalog.count(*) into queued
    from (select 1 from public.marketplace_discovery_queue q
          where q.status = 'queued' and greatest(q.run_at, q.created_at) <= pg_catalog.now()
          limit p_cap) s;
    select pg_catalog.count(*) into expired
    from (select 1 from public.marketplace_discovery_queue q
          where q.status = 'processing' and q.lease_expires_at < pg_catalog.now() limit p_cap) s;
  else
    select pg_catalog.count(*) into queued
    from (select 1 from public.events_queue q
          where q.topic = p_topic and q.status = 'queued'
            and greatest(q.run_at, q.created_at) <= pg_catalog.now()
          limit p_cap) s;
    select pg_catalog.count(*) into expired
    from (select 1 from public.events_queue q
          where q.topic = p_topic and q.status = 'processing'
            and q.lease_expires_at < pg_catalog.now()
          limit p_cap) s;
  end if;
  return least(p_cap::bigint, queued + expired);
end
$$;
revoke all on function ops.queue_runnable_backlog(text, integer) from public;


-- =============================================================================================
-- ops.dispatch_worker — one tick
-- =============================================================================================

-- One tick of a worker's cron job p_job_name: posts the calls the runnable backlog needs to
-- <project_url><p_path>, each with body p_body plus its own `call_id`, and returns their pg_net
-- request ids (no rows when it posted none). How many:
--   per_call  = least(the body's limit, rate × call_budget_ms), the rate being jobs per ms over
--               the topic's last 20 answered calls of the hour that did work (their own
--               processed and duration_ms); the body's limit while there is no measurement
--   backlog   = runnable rows (ops.queue_runnable_backlog), counted up to ten ticks' work,
--               max_parallel × per_call × 10, and at most 100,000
--   wanted    = 0 with no runnable rows, else least(max_parallel, ceil(backlog / per_call))
--   issued    = least(wanted, max_parallel - the topic's running calls,
--                     max_calls_per_tick - all running calls)
-- A running call is one posted less than its timeout ago (counted from the tick: pg_net's own
-- clock starts when it sends, so a backed-up pg_net can keep a call running past this and the
-- ceiling be overshot) that has neither recorded a result nor had an answer in
-- net._http_response. The rate and the backlog are measured first, unserialised (they only
-- size the tick); from the running count to the commit, dispatchers hold a transaction-scoped
-- advisory lock, so ticks of many topics due in the same minute never overshoot the ceiling
-- together (each statement of a READ COMMITTED transaction sees the calls the tick before it
-- committed). Every call is noted in ops.cron_requests under the job's name (vw_cron_health
-- counts its failures) and in ops.queue_dispatch_calls; the tick in ops.queue_dispatch_ticks.
-- Then calls pg_net answered without a result are stamped over (the view keeps counting them
-- after pg_net drops its answers), and the oldest ticks past the retention, of any topic, are
-- pruned, 100 at most. Owner only: it reads Vault (pg_cron runs it as postgres; an operator
-- forces a tick by running the job's command).
create function ops.dispatch_worker(
  p_job_name text,
  p_path text,
  p_body jsonb,
  -- How long pg_net waits for each answer; above the workers' 50 s budget, as schedule_function.
  p_timeout_milliseconds integer default 60000
)
returns table (request_id bigint)
language plpgsql
volatile
set search_path = ''
as $$
declare
  -- Fixed, arbitrary: names "worker dispatchers" (ops.learning_writers_lock_key's neighbour).
  lock_key constant bigint := 7346190262518420002;
  -- The backlog is counted up to ten ticks' work at the current fan-out (max_parallel ×
  -- per-call jobs × 10), never past this: enough to decide and to show an operator whether a
  -- backlog outlasts ten ticks, while a backlog of millions costs one short index scan.
  backlog_cap constant bigint := 100000;
  ticks_counted constant int := 10;
  -- The per-call rate follows the latest calls without one odd call swinging it.
  rate_sample constant int := 20;
  rate_window constant interval := interval '1 hour';
  -- Each topic adds one tick row a minute and each of its ticks prunes up to 100 of any topic,
  -- so pruning keeps pace with ease, unscheduled topics' rows included.
  prune_batch constant int := 100;
  -- pg_net keeps answers this long by default (pg_net.ttl): calls older than this that it
  -- answered have been stamped by an earlier tick, or their answer is gone.
  answer_ttl constant interval := interval '6 hours';
  settings ops.queue_dispatch_settings;
  queue_topic text;
  job_limit int;
  topic_max int;
  backlog bigint;
  sampled_jobs bigint;
  sampled_ms bigint;
  per_call bigint;
  wanted int;
  running_topic int;
  running_all int;
  issuing int;
  tick bigint;
  project_url text;
  service_key text;
  call uuid;
  request bigint;
begin
  -- GUARD: the job's name and timeout, the function and the body (dispatch_target).
  select t.topic, t.call_limit into queue_topic, job_limit
  from ops.dispatch_target(p_job_name => p_job_name, p_path => p_path, p_body => p_body,
                           p_timeout_milliseconds => p_timeout_milliseconds) t;

  select * into settings from ops.queue_dispatch_settings s;
  topic_max := coalesce(
    (select p.max_parallel from ops.queue_parallelism p where p.topic = queue_topic),
    settings.default_max_parallel);

  -- MEASURE: what one call does, the runnable backlog, what is still running.
  select coalesce(pg_catalog.sum(r.processed), 0)::bigint,
         coalesce(pg_catalog.sum(r.duration_ms), 0)::bigint
    into sampled_jobs, sampled_ms
  from (select c.processed, c.duration_ms
        from ops.queue_dispatch_calls c
        where c.topic = queue_topic and c.processed > 0
          and c.answered_at > pg_catalog.now() - rate_window
        order by c.answered_at desc
        limit rate_sample) r;
  per_call := case when sampled_ms > 0
                   then greatest(1::bigint, least(job_limit::bigint,
                                                  sampled_jobs * settings.call_budget_ms
                                                    / sampled_ms))
                   else job_limit::bigint end;
  backlog := ops.queue_runnable_backlog(
    p_topic => queue_topic,
    p_cap => least(backlog_cap, topic_max * per_call * ticks_counted)::int);
  wanted := case when backlog = 0 then 0
                 else least(topic_max::numeric,
                            pg_catalog.ceil(backlog::numeric / per_call::numeric))::int end;

  -- SERIALISE: from here to the commit (the ceiling's arithmetic and the calls it allows).
  perform pg_catalog.pg_advisory_xact_lock(lock_key);
  select (pg_catalog.count(*) filter (where c.topic = queue_topic))::int,
         pg_catalog.count(*)::int
    into running_topic, running_all
  from ops.queue_dispatch_calls c
  where c.answered_at is null and c.expires_at > pg_catalog.now()
    and not exists (select 1 from net._http_response r where r.id = c.request_id);
  issuing := greatest(0, least(wanted, topic_max - running_topic,
                               (select s.max_calls_per_tick from ops.queue_dispatch_settings s)
                                 - running_all));

  insert into ops.queue_dispatch_ticks (topic, jobname, parallelism, calls_issued, backlog_before)
  values (queue_topic, p_job_name, wanted, issuing, backlog)
  returning id into tick;

  -- ISSUE: one net.http_post per call, all sent by pg_net once this transaction commits.
  if issuing > 0 then
    select v.decrypted_secret into project_url
    from vault.decrypted_secrets v where v.name = 'project_url';
    select v.decrypted_secret into service_key
    from vault.decrypted_secrets v where v.name = 'service_role_key';
    if project_url is null or service_key is null then
      raise exception 'Vault secrets project_url and service_role_key are required'
        using errcode = 'P0002';
    end if;
  end if;
  for i in 1 .. issuing loop
    call := pg_catalog.gen_random_uuid();
    request := net.http_post(
      url => project_url || p_path,
      body => p_body || pg_catalog.jsonb_build_object('call_id', call),
      headers => pg_catalog.jsonb_build_object(
        'Content-Type', 'application/json',
        'Authorization', 'Bearer ' || service_key),
      timeout_milliseconds => p_timeout_milliseconds);
    perform ops.note_cron_request(p_job_name => p_job_name, p_request_id => request);
    insert into ops.queue_dispatch_calls (id, tick_id, topic, request_id, expires_at)
    values (call, tick, queue_topic, request,
            pg_catalog.now() + pg_catalog.make_interval(secs => p_timeout_milliseconds / 1000.0));
    request_id := request;
    return next;
  end loop;

  -- SETTLE: calls pg_net answered that recorded no result (refused, failed, timed out, result
  -- write lost) are over; stamped, they stay answered (and errors) in vw_queue_dispatches.
  update ops.queue_dispatch_calls c
     set answered_at = r.created
    from net._http_response r
   where r.id = c.request_id and c.answered_at is null
     and c.expires_at > pg_catalog.now() - answer_ttl;

  -- PRUNE: the oldest ticks past the retention, whatever their topic (their calls go with
  -- them), so the records of a topic no longer scheduled go too.
  delete from ops.queue_dispatch_ticks t
  where t.id in (select o.id from ops.queue_dispatch_ticks o
                 where o.tick_at < pg_catalog.now() - settings.retention
                 order by o.tick_at, o.id
                 limit prune_batch);
  return;
end
$$;
revoke all on function ops.dispatch_worker(text, text, jsonb, integer) from public;


-- =============================================================================================
-- Schedules
-- =============================================================================================

-- Schedules (or reschedules, in place, by name) cron job p_job_name to run the dispatcher for
-- p_function_name (queue-worker or rocker-discovery-run) with p_body. The command is one
-- statement an operator can run by hand to force a tick; it answers the request ids of the
-- calls it posted. Arguments are written `name := value` (Postgres' other named-argument
-- notation) so the body still reads `body := '<json>'`, as in the jobs ops.schedule_function
-- writes, which runbooks and tests read a job's body back from. Returns the jobid. Owner only
-- (the job runs as its scheduler, and the dispatcher reads Vault).
create function ops.schedule_worker_dispatch(
  p_job_name text,
  p_schedule text,
  p_function_name text,
  p_body jsonb default '{}'::jsonb,
  p_timeout_milliseconds integer default 60000
)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
  command text;
begin
  -- GUARD: what the dispatcher would refuse at every tick is refused now.
  if p_function_name is null or p_function_name not in ('queue-worker', 'rocker-discovery-run') then
    raise exception 'p_function_name must be queue-worker or rocker-discovery-run'
      using errcode = '22023';
  end if;
  perform ops.dispatch_target(p_job_name => p_job_name,
                              p_path => '/functions/v1/' || p_function_name, p_body => p_body,
                              p_timeout_milliseconds => p_timeout_milliseconds);

  command := pg_catalog.format(
    $cmd$select request_id from ops.dispatch_worker(
  p_job_name := %L,
  p_path := %L,
  p_body := %L::jsonb,
  p_timeout_milliseconds := %s)$cmd$,
    p_job_name, '/functions/v1/' || p_function_name, p_body::text, p_timeout_milliseconds);
  return cron.schedule(p_job_name, p_schedule, command);
end
$$;
revoke all on function ops.schedule_worker_dispatch(text, text, text, jsonb, integer) from public;

-- Runs the queue-worker for `p_topic` on `p_schedule` (default every minute, pg_cron 1.4's
-- finest) as cron job 'queue-worker:<topic>', through the dispatcher, with body {"topic",
-- "limit", "ttl"}: each tick posts as many calls as the topic's backlog needs (see
-- ops.dispatch_worker). Idempotent. The topic must also have a handler in the queue-worker's
-- registry, or every call answers 400.
create or replace function ops.schedule_queue_topic(
  p_topic text,
  p_batch_limit integer default 100,
  p_ttl_seconds integer default 120,
  p_schedule text default '* * * * *'
)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
begin
  -- GUARD: the worker's own body limits, so a bad schedule fails here and not once a minute.
  if p_topic is null or pg_catalog.length(p_topic) not between 1 and 200 then
    raise exception 'p_topic must be 1 to 200 characters' using errcode = '22023';
  end if;
  -- The dispatcher's name for the discovery queue: an events topic so named would be counted
  -- and sized as that queue.
  if p_topic = 'marketplace_discovery_queue' then
    raise exception 'p_topic marketplace_discovery_queue is reserved for rocker-discovery-run'
      using errcode = '22023';
  end if;
  if p_batch_limit is null or p_batch_limit not between 1 and 1000 then
    raise exception 'p_batch_limit must be between 1 and 1000' using errcode = '22023';
  end if;
  if p_ttl_seconds is null or p_ttl_seconds not between 5 and 3600 then
    raise exception 'p_ttl_seconds must be between 5 and 3600' using errcode = '22023';
  end if;

  return ops.schedule_worker_dispatch(
    p_job_name => 'queue-worker:' || p_topic,
    p_schedule => p_schedule,
    p_function_name => 'queue-worker',
    p_body => pg_catalog.jsonb_build_object('topic', p_topic, 'limit', p_batch_limit,
                                            'ttl', p_ttl_seconds));
end
$$;
revoke all on function ops.schedule_queue_topic(text, integer, integer, text) from public;

-- The worker jobs scheduled so far post one call per tick: move each one whose command has
-- exactly the shape ops.schedule_function writes onto the dispatcher, keeping its name,
-- schedule, body and timeout (queue-worker:<topic> every minute, rocker-discovery-run every
-- 5 minutes). Other jobs (hydrate-features, hand-written commands) are left as they are.
do $$
declare
  job record;
  parts text[];
begin
  for job in select j.jobname, j.schedule, j.command from cron.job j order by j.jobid loop
    parts := pg_catalog.regexp_match(job.command,
      '^select ops\.note_cron_request\(p_job_name => ''(?:[^'']|'''')*'', p_request_id => net\.http_post\(\s+url := \(select decrypted_secret from vault\.decrypted_secrets where name = ''project_url''\)\s+\|\| ''/functions/v1/(queue-worker|rocker-discovery-run)'',\s+headers := jsonb_build_object\(\s+''Content-Type'', ''application/json'',\s+''Authorization'', ''Bearer '' \|\| \(select decrypted_secret from vault\.decrypted_secrets\s+where name = ''service_role_key''\)\),\s+body := ''((?:[^'']|'''')*)''::jsonb,\s+timeout_milliseconds := ([0-9]+)\s+\)\) as request_id$');
    if parts is not null then
      perform ops.schedule_worker_dispatch(
        p_job_name => job.jobname,
        p_schedule => job.schedule,
        p_function_name => parts[1],
        p_body => pg_catalog.replace(parts[2], '''''', '''')::jsonb,
        p_timeout_milliseconds => parts[3]::int);
    end if;
  end loop;
end
$$;
