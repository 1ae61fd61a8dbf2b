-- Every SQL function parameter is named p_<name> (docs/development.md, "SQL conventions"): a
-- parameter then never reads like a column or a local, and an argument error names exactly what
-- the caller passed. The scheduling helpers and the done-sample helper predate the rule; this
-- renames their parameters. Behaviour, return types, grants and callers' positional calls are
-- unchanged. The argument errors now name the p_ parameter, as every other function's do.
--
-- CREATE OR REPLACE cannot rename a parameter ("cannot change name of input parameter"), so each
-- is dropped and created again, with the same revokes and grants as before. Nothing depends on
-- them in the catalog: their callers are plpgsql or string-bodied sql functions (resolved when
-- they run) and the cron jobs they wrote, whose commands call net.http_post, not these.


-- =============================================================================================
-- ops.queue_done_sample_percent
-- =============================================================================================

drop function ops.queue_done_sample_percent(regclass);

-- The TABLESAMPLE SYSTEM percentage that reads about 200 pages of `p_rel` (all of it when
-- smaller): ~15,000 rows, enough for a per-topic share within a few percent. The pages are
-- random, so most come from outside shared_buffers: measured on 2 cores with 1M done rows, 200
-- pages cost ~7 ms and 500 pages ~25 ms, half of the views' 50 ms budget.
create function ops.queue_done_sample_percent(p_rel regclass)
returns double precision
language sql
stable
set search_path = ''
as $$
  select least(100, 100.0 * 200 / greatest(c.relpages, 1))::double precision
  from pg_catalog.pg_class c where c.oid = p_rel
$$;
revoke all on function ops.queue_done_sample_percent(regclass) from public;
grant execute on function ops.queue_done_sample_percent(regclass) to service_role;


-- =============================================================================================
-- ops.schedule_function / ops.unschedule_function
-- =============================================================================================

drop function ops.schedule_function(text, text, text, jsonb, integer);

-- Schedules (or reschedules) cron job `p_job_name` to POST `p_body` to
-- /functions/v1/<p_function_name> with the service_role key. Idempotent: pg_cron's
-- cron.schedule(job_name, …) updates the job of that name in place (same jobid, `active` kept),
-- so migrations and operators can re-run it to change the schedule or body. Returns the jobid.
--
-- Runs as the caller (postgres, in migrations): cron jobs run as the role that scheduled them,
-- and only postgres may read Vault, so no API role may call this.
create function ops.schedule_function(
  p_job_name text,
  p_schedule text,
  p_function_name text,
  p_body jsonb default '{}'::jsonb,
  -- How long pg_net waits for the answer; the function keeps running if it gives up. Above the
  -- queue-worker's default 50 s budget so a full run is recorded with its status.
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
  -- GUARD: the function name and body end up inside the job's SQL text; only a plain slug is a
  -- function name, and the body is embedded as a quoted literal.
  if p_function_name is null or p_function_name !~ '^[a-z0-9][a-z0-9_-]{0,62}$' then
    raise exception 'p_function_name must be an Edge Function slug (a-z, 0-9, _ and -)'
      using errcode = '22023';
  end if;
  if p_job_name is null or pg_catalog.length(p_job_name) not between 1 and 200 then
    raise exception 'p_job_name must be 1 to 200 characters' using errcode = '22023';
  end if;
  if p_body is null then
    raise exception 'p_body must not be null' using errcode = '22023';
  end if;
  if p_timeout_milliseconds is null or p_timeout_milliseconds not between 1000 and 600000 then
    raise exception 'p_timeout_milliseconds must be between 1000 and 600000'
      using errcode = '22023';
  end if;

  -- `timeout_milliseconds :=` below is net.http_post's own parameter (pg_net's contract).
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
    p_function_name, p_body::text, p_timeout_milliseconds);

  return cron.schedule(p_job_name, p_schedule, command);
end
$$;
revoke all on function ops.schedule_function(text, text, text, jsonb, integer) from public;

drop function ops.unschedule_function(text);

-- Removes a job scheduled by schedule_function; true when there was one. Idempotent.
create function ops.unschedule_function(p_job_name text)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  if exists (select 1 from cron.job j where j.jobname = p_job_name) then
    return cron.unschedule(p_job_name);
  end if;
  return false;
end
$$;
revoke all on function ops.unschedule_function(text) from public;


-- =============================================================================================
-- ops.schedule_queue_topic / ops.unschedule_queue_topic
-- =============================================================================================

drop function ops.schedule_queue_topic(text, integer, integer, text);

-- Runs the queue-worker for `p_topic` on `p_schedule` (default every minute, pg_cron 1.4's
-- finest) as cron job 'queue-worker:<topic>', with body {"topic", "limit", "ttl"}. Idempotent.
-- The topic must also have a handler in the queue-worker's registry, or every run answers 400.
create function ops.schedule_queue_topic(
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
  if p_batch_limit is null or p_batch_limit not between 1 and 1000 then
    raise exception 'p_batch_limit must be between 1 and 1000' using errcode = '22023';
  end if;
  if p_ttl_seconds is null or p_ttl_seconds not between 5 and 3600 then
    raise exception 'p_ttl_seconds must be between 5 and 3600' using errcode = '22023';
  end if;

  return ops.schedule_function(
    p_job_name => 'queue-worker:' || p_topic,
    p_schedule => p_schedule,
    p_function_name => 'queue-worker',
    p_body => pg_catalog.jsonb_build_object('topic', p_topic, 'limit', p_batch_limit,
                                            'ttl', p_ttl_seconds));
end
$$;
revoke all on function ops.schedule_queue_topic(text, integer, integer, text) from public;

drop function ops.unschedule_queue_topic(text);

-- Stops the scheduled queue-worker runs for `p_topic`; true when it was scheduled.
create function ops.unschedule_queue_topic(p_topic text)
returns boolean
language sql
volatile
set search_path = ''
as $$
  select ops.unschedule_function('queue-worker:' || p_topic)
$$;
revoke all on function ops.unschedule_queue_topic(text) from public;
