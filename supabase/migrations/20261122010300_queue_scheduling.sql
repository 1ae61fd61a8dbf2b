-- Scheduling: pg_cron calls Edge Functions over HTTP with pg_net, reading the project URL and the
-- service_role key from Vault at run time (Supabase's documented pattern), so no secret is ever
-- written into a migration or into cron.job. Then: the daily queue maintenance job.
--
-- Which queue-worker topics run on a schedule is decided in SQL by ops.schedule_queue_topic():
-- the issue that adds a topic's handler (in queue-worker/registry.ts) also adds a migration
-- calling it, e.g. `select ops.schedule_queue_topic('discovery.user-signup');`.


-- =============================================================================================
-- ops.schedule_function / ops.unschedule_function
-- =============================================================================================

-- Schedules (or reschedules) cron job `job_name` to POST `body` to /functions/v1/<function_name>
-- with the service_role key. Idempotent: pg_cron's cron.schedule(job_name, …) updates the job of
-- that name in place (same jobid, `active` kept), so migrations and operators can re-run it to
-- change the schedule or body. Returns the jobid.
--
-- Runs as the caller (postgres, in migrations): cron jobs run as the role that scheduled them,
-- and only postgres may read Vault, so no API role may call this.
create function ops.schedule_function(
  job_name text,
  schedule text,
  function_name text,
  body jsonb default '{}'::jsonb,
  -- How long pg_net waits for the answer; the function keeps running if it gives up. Above the
  -- queue-worker's default 50 s budget so a full run is recorded with its status.
  timeout_milliseconds integer default 60000
)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
  command text;
begin
  -- GUARD: the function name and body end up inside the job's SQL text; only a plain slug is a
  -- function name, and the body is embedded as a quoted literal.
  if function_name is null or function_name !~ '^[a-z0-9][a-z0-9_-]{0,62}$' then
    raise exception 'function_name must be an Edge Function slug (a-z, 0-9, _ and -)'
      using errcode = '22023';
  end if;
  if job_name is null or pg_catalog.length(job_name) not between 1 and 200 then
    raise exception 'job_name must be 1 to 200 characters' using errcode = '22023';
  end if;
  if body is null then
    raise exception 'body must not be null' using errcode = '22023';
  end if;
  if timeout_milliseconds is null or timeout_milliseconds not between 1000 and 600000 then
    raise exception 'timeout_milliseconds must be between 1000 and 600000' using errcode = '22023';
  end if;

  command := pg_catalog.format(
    $cmd$select net.http_post(
  url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
         || '/functions/v1/%s',
  headers := jsonb_build_object(
    'Content-Type', 'application/json',
    'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                   where name = 'service_role_key')),
  body := %L::jsonb,
  timeout_milliseconds := %s
) as request_id$cmd$,
    function_name, body::text, timeout_milliseconds);

  return cron.schedule(job_name, schedule, command);
end
$$;
revoke all on function ops.schedule_function(text, text, text, jsonb, integer) from public;

-- Removes a job scheduled by schedule_function; true when there was one. Idempotent.
create function ops.unschedule_function(job_name text)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  if exists (select 1 from cron.job j where j.jobname = unschedule_function.job_name) then
    return cron.unschedule(unschedule_function.job_name);
  end if;
  return false;
end
$$;
revoke all on function ops.unschedule_function(text) from public;


-- =============================================================================================
-- ops.schedule_queue_topic / ops.unschedule_queue_topic
-- =============================================================================================

-- Runs the queue-worker for `topic` on `schedule` (default every minute, pg_cron 1.4's finest)
-- as cron job 'queue-worker:<topic>', with body {"topic", "limit", "ttl"}. Idempotent. The
-- topic must also have a handler in the queue-worker's registry, or every run answers 400.
create function ops.schedule_queue_topic(
  topic text,
  batch_limit integer default 100,
  ttl_seconds integer default 120,
  schedule text default '* * * * *'
)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
begin
  -- GUARD: the worker's own body limits, so a bad schedule fails here and not once a minute.
  if topic is null or pg_catalog.length(topic) not between 1 and 200 then
    raise exception 'topic must be 1 to 200 characters' using errcode = '22023';
  end if;
  if batch_limit is null or batch_limit not between 1 and 1000 then
    raise exception 'batch_limit must be between 1 and 1000' using errcode = '22023';
  end if;
  if ttl_seconds is null or ttl_seconds not between 5 and 3600 then
    raise exception 'ttl_seconds must be between 5 and 3600' using errcode = '22023';
  end if;

  return ops.schedule_function(
    job_name => 'queue-worker:' || topic,
    schedule => schedule,
    function_name => 'queue-worker',
    body => pg_catalog.jsonb_build_object('topic', topic, 'limit', batch_limit,
                                          'ttl', ttl_seconds));
end
$$;
revoke all on function ops.schedule_queue_topic(text, integer, integer, text) from public;

-- Stops the scheduled queue-worker runs for `topic`; true when it was scheduled.
create function ops.unschedule_queue_topic(topic text)
returns boolean
language sql
volatile
set search_path = ''
as $$
  select ops.unschedule_function('queue-worker:' || topic)
$$;
revoke all on function ops.unschedule_queue_topic(text) from public;


-- =============================================================================================
-- Jobs
-- =============================================================================================

-- Daily at 03:17 UTC (off the hour, when other projects' jobs cluster): requeue expired leases
-- and purge done rows older than 7 days in batches of 5,000, committing after each batch.
select cron.schedule('queue-maintenance', '17 3 * * *', 'call ops.run_queue_maintenance()');
