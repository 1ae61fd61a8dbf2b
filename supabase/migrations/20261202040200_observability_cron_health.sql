-- Observability, part 3: are the cron → function calls working? pg_net is fire-and-forget:
-- cron.job_run_details says a job's SQL ran ("succeeded" once net.http_post has queued the
-- request), not what the function answered, and pg_net records no link from a run to the
-- request it made. So every job built by ops.schedule_function now records the request id it
-- got (ops.cron_requests), public.vw_cron_health joins runs and answers per job, and two daily
-- jobs prune cron.job_run_details (which grows without bound) and the telemetry tables.
-- docs/observability.md.


-- =============================================================================================
-- ops.cron_requests — which job made which pg_net request
-- =============================================================================================

-- One row per request a function-calling cron job queued: the job's name, the id
-- net.http_post returned (the key of net._http_response), and when. Matching runs to answers
-- by URL and time cannot work: pg_net deletes a request from its queue once sent,
-- net._http_response has neither the URL nor the job, and two jobs may call the same function
-- (queue-worker:<topic>). The job's own command writes this row in the run's transaction, so a
-- run that failed before queueing its request leaves none.
create table ops.cron_requests (
  request_id bigint primary key,
  jobname text not null,
  requested_at timestamptz not null default pg_catalog.now()
);

comment on table ops.cron_requests is
  'pg_net request ids queued by function-calling cron jobs, per job (vw_cron_health).';

-- vw_cron_health reads each job's requests of the last hour and its latest one.
create index cron_requests_jobname_idx on ops.cron_requests (jobname, requested_at);
create index cron_requests_requested_at_idx on ops.cron_requests (requested_at);

alter table ops.cron_requests enable row level security;
create policy cron_requests_service_read on ops.cron_requests
  for select to service_role using (true);
revoke all on ops.cron_requests from public, anon, authenticated, service_role;
grant select on ops.cron_requests to service_role;

-- Records that job p_job_name queued pg_net request p_request_id, and returns the id, so a
-- job's command can wrap its net.http_post call and still answer `request_id`. Owner only: it
-- runs inside cron jobs (which run as the role that scheduled them, postgres) and inside tests
-- that run a job's command as the owner does.
create function ops.note_cron_request(p_job_name text, p_request_id bigint)
returns bigint
language sql
volatile
set search_path = ''
as $$
  insert into ops.cron_requests (request_id, jobname) values (p_request_id, p_job_name)
  returning request_id
$$;
revoke all on function ops.note_cron_request(text, bigint) from public;


-- =============================================================================================
-- ops.schedule_function — the same contract, a command that records its request
-- =============================================================================================

-- Schedules (or reschedules) cron job `p_job_name` to POST `p_body` to
-- /functions/v1/<p_function_name> with the service_role key. Idempotent: pg_cron's
-- cron.schedule(job_name, …) updates the job of that name in place (same jobid, `active` kept),
-- so migrations and operators can re-run it to change the schedule or body. Returns the jobid.
-- The command reads the URL and key from Vault at run time, posts through net.http_post, and
-- hands the request id to ops.note_cron_request (which vw_cron_health joins to the answer); it
-- still answers one column `request_id`, as before.
--
-- Runs as the caller (postgres, in migrations): cron jobs run as the role that scheduled them,
-- and only postgres may read Vault, so no API role may call this.
create or replace function ops.schedule_function(
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
  -- function name, and the body and job name are embedded as quoted literals.
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

  -- `url :=` … `timeout_milliseconds :=` below are net.http_post's own parameters (pg_net's
  -- contract); the first line names the job whose request it is.
  command := pg_catalog.format(
    $cmd$select ops.note_cron_request(p_job_name => %L, p_request_id => net.http_post(
  url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
         || '/functions/v1/%s',
  headers := jsonb_build_object(
    'Content-Type', 'application/json',
    'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                   where name = 'service_role_key')),
  body := %L::jsonb,
  timeout_milliseconds := %s
)) as request_id$cmd$,
    p_job_name, p_function_name, p_body::text, p_timeout_milliseconds);

  return cron.schedule(p_job_name, p_schedule, command);
end
$$;
revoke all on function ops.schedule_function(text, text, text, jsonb, integer) from public;

-- Jobs scheduled before this migration have the old command, which records nothing: rebuild
-- each one whose command has exactly the shape the old ops.schedule_function wrote (function
-- slug, body literal and timeout read back out of it), keeping its name and schedule. A command
-- an operator wrote by hand does not match and is left as it is.
do $$
declare
  job record;
  parts text[];
begin
  for job in select j.jobname, j.schedule, j.command from cron.job j order by j.jobid loop
    parts := pg_catalog.regexp_match(job.command,
      '^select net\.http_post\(\s+url := \(select decrypted_secret from vault\.decrypted_secrets where name = ''project_url''\)\s+\|\| ''/functions/v1/([a-z0-9][a-z0-9_-]{0,62})'',\s+headers := jsonb_build_object\(\s+''Content-Type'', ''application/json'',\s+''Authorization'', ''Bearer '' \|\| \(select decrypted_secret from vault\.decrypted_secrets\s+where name = ''service_role_key''\)\),\s+body := ''((?:[^'']|'''')*)''::jsonb,\s+timeout_milliseconds := ([0-9]+)\s+\) as request_id$');
    if parts is not null then
      perform ops.schedule_function(
        p_job_name => job.jobname,
        p_schedule => job.schedule,
        p_function_name => parts[1],
        p_body => pg_catalog.replace(parts[2], '''''', '''')::jsonb,
        p_timeout_milliseconds => parts[3]::int);
    end if;
  end loop;
end
$$;


-- =============================================================================================
-- public.vw_cron_health
-- =============================================================================================

-- One row per cron job that calls a function (its command posts to /functions/v1/):
--   last_run_at, last_status   the latest run in cron.job_run_details (start time, status;
--                              latest = highest runid: pg_cron numbers runs as it starts them)
--   last_http_status           the HTTP status of the job's latest request that has an answer
--                              in net._http_response (null: none yet, or it timed out)
--   runs_1h                    runs started in the hour before p_now
--   failures_1h                those runs that failed, plus the job's requests of that hour
--                              that failed: a non-2xx answer, a timeout or transport error, or
--                              no answer 11 minutes after queueing (beyond the longest timeout
--                              schedule_function allows: the request was lost). A failed run
--                              queued no request, so nothing counts twice.
-- pg_net keeps answers for 6 hours by default, so the hour is always covered. SECURITY DEFINER
-- because service_role (the ops CLI, the metrics endpoint, vw_alerts) cannot read cron.* or
-- net.*; reviewed: it returns job names, schedules, statuses and counts, never commands,
-- request bodies or answers.
create function ops.cron_health(p_now timestamptz)
returns table (jobname text, schedule text, last_run_at timestamptz, last_status text,
               last_http_status int, failures_1h bigint, runs_1h bigint)
language sql
stable
security definer
set search_path = ''
as $$
  with jobs as (
    select j.jobid, j.jobname, j.schedule
    from cron.job j
    where j.command like '%/functions/v1/%'
  ),
  runs as (
    select d.jobid, pg_catalog.count(*) as runs,
           pg_catalog.count(*) filter (where d.status = 'failed') as failed
    from cron.job_run_details d
    where d.start_time > p_now - interval '1 hour' and d.start_time <= p_now
    group by d.jobid
  ),
  requests as (
    select q.jobname,
           pg_catalog.count(*) filter (
             where case when r.id is null then q.requested_at < p_now - interval '11 minutes'
                        else coalesce(r.timed_out, false) or r.error_msg is not null
                             or r.status_code is null or r.status_code not between 200 and 299
                   end) as failed
    from ops.cron_requests q
    left join net._http_response r on r.id = q.request_id
    where q.requested_at > p_now - interval '1 hour' and q.requested_at <= p_now
    group by q.jobname
  )
  select j.jobname, j.schedule, lr.start_time, lr.status, la.status_code,
         coalesce(ru.failed, 0) + coalesce(rq.failed, 0), coalesce(ru.runs, 0)
  from jobs j
  left join runs ru on ru.jobid = j.jobid
  left join requests rq on rq.jobname = j.jobname
  left join lateral (
    select d.start_time, d.status from cron.job_run_details d
    where d.jobid = j.jobid and d.start_time <= p_now
    order by d.runid desc limit 1) lr on true
  left join lateral (
    select r.status_code from ops.cron_requests q
    join net._http_response r on r.id = q.request_id
    where q.jobname = j.jobname and q.requested_at <= p_now
    order by q.requested_at desc, q.request_id desc limit 1) la on true
  order by j.jobname
$$;
revoke all on function ops.cron_health(timestamptz) from public;
grant execute on function ops.cron_health(timestamptz) to service_role;

-- Per function-calling cron job: the latest run and its status, the latest HTTP answer, and
-- runs and failures in the last hour. See ops.cron_health.
create view public.vw_cron_health
with (security_invoker = true)
as
select h.jobname, h.schedule, h.last_run_at, h.last_status, h.last_http_status, h.failures_1h,
       h.runs_1h
from ops.cron_health(pg_catalog.now()) as h;

comment on view public.vw_cron_health is
  'Per cron job that calls a function: last run and status, last HTTP status, failures and '
  'runs in the last hour.';

revoke all on public.vw_cron_health from public, anon, authenticated, service_role;
grant select on public.vw_cron_health to service_role;


-- =============================================================================================
-- Pruning: cron history and the telemetry tables
-- =============================================================================================

-- Deletes cron.job_run_details rows and ops.cron_requests rows older than
-- cron_history_retention (ops.observability_settings, default 7 days), writes one ledger row
-- (action cron.prune_history) and returns the rows removed per table. A run still going (no
-- end_time) is kept whatever its age. Owner only (the daily job; cron.* is not service_role's).
create function ops.prune_cron_history()
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  retention interval;
  cutoff timestamptz;
  runs_removed bigint;
  requests_removed bigint;
begin
  select s.cron_history_retention into retention from ops.observability_settings s;
  cutoff := pg_catalog.now() - retention;

  delete from cron.job_run_details d where d.end_time < cutoff;
  get diagnostics runs_removed = row_count;
  delete from ops.cron_requests q where q.requested_at < cutoff;
  get diagnostics requests_removed = row_count;

  perform public.record_ai_action(
    p_action => 'cron.prune_history',
    p_target => 'cron.job_run_details',
    p_before => pg_catalog.jsonb_build_object('retention', retention::text, 'cutoff', cutoff),
    p_after => pg_catalog.jsonb_build_object('job_run_details', runs_removed,
                                             'cron_requests', requests_removed));
  return pg_catalog.jsonb_build_object('job_run_details', runs_removed,
                                       'cron_requests', requests_removed);
end
$$;
revoke all on function ops.prune_cron_history() from public;

-- Deletes spans and latency histograms older than span_retention, minute rollups older than
-- rollup_retention and client signals older than signal_retention (ops.observability_settings),
-- writes one ledger row (action observability.prune) and returns the rows removed per table.
-- Raw spans go oldest first in batches of 50,000, at most 20 batches (1,000,000 rows) per call,
-- so one call's transaction and WAL stay bounded; a larger backlog goes on the next days. The
-- rollups are never corrected for deleted spans: every retention is longer than the longest
-- window a view reads. Owner only (the daily job, operators in the SQL editor).
create function ops.prune_kernel_telemetry()
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  batch_size constant int := 50000;
  max_batches constant int := 20;
  settings ops.observability_settings;
  deleted int;
  batches int := 0;
  spans_removed bigint := 0;
  minutes_removed bigint;
  buckets_removed bigint;
  signals_removed bigint;
  result jsonb;
begin
  select * into settings from ops.observability_settings s;

  loop
    delete from public.kernel_spans k
    where k.id in (select o.id from public.kernel_spans o
                    where o.at < pg_catalog.now() - settings.span_retention
                    order by o.at limit batch_size);
    get diagnostics deleted = row_count;
    spans_removed := spans_removed + deleted;
    batches := batches + 1;
    exit when deleted < batch_size or batches >= max_batches;
  end loop;

  delete from ops.kernel_span_buckets b
  where b.minute < pg_catalog.now() - settings.span_retention;
  get diagnostics buckets_removed = row_count;
  delete from ops.kernel_span_minutes m
  where m.minute < pg_catalog.now() - settings.rollup_retention;
  get diagnostics minutes_removed = row_count;
  delete from public.kernel_signals g
  where g.at < pg_catalog.now() - settings.signal_retention;
  get diagnostics signals_removed = row_count;

  result := pg_catalog.jsonb_build_object(
    'kernel_spans', spans_removed, 'kernel_span_buckets', buckets_removed,
    'kernel_span_minutes', minutes_removed, 'kernel_signals', signals_removed);
  perform public.record_ai_action(
    p_action => 'observability.prune',
    p_target => 'public.kernel_spans',
    p_before => pg_catalog.jsonb_build_object(
      'span_retention', settings.span_retention::text,
      'rollup_retention', settings.rollup_retention::text,
      'signal_retention', settings.signal_retention::text),
    p_after => result);
  return result;
end
$$;
revoke all on function ops.prune_kernel_telemetry() from public;

-- Daily, off the hour and away from the 02:00-03:17 GC jobs. Scheduling by name updates a job
-- in place, so re-applying is harmless.
select cron.schedule('cron-history-prune', '7 4 * * *', 'select ops.prune_cron_history()');
select cron.schedule('kernel-telemetry-prune', '37 4 * * *',
                     'select ops.prune_kernel_telemetry()');
