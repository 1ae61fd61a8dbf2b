-- vw_cron_health: function-calling cron jobs record the pg_net request id of each run
-- (ops.cron_requests), so runs and HTTP answers join per job; failures count failed runs and
-- failed, timed-out or lost requests. And the daily jobs that prune cron history and telemetry.
begin;
select plan(16);

-- Every function-calling job records its request and still answers request_id.
select is_empty(
  $$ select jobname from cron.job
      where command like '%/functions/v1/%'
        and command not like format('select ops.note_cron_request(p_job_name => %L, p_request_id => net.http_post(%%', jobname)
        -- The worker dispatcher notes each of the calls it issues itself, under the name it
        -- is given: the job's own.
        and command not like format('select request_id from ops.dispatch_worker(%%p_job_name := %L,%%', jobname) $$,
  'every job that calls a function records its requests in ops.cron_requests');
select ok((select count(*) >= 3 from cron.job where command like '%/functions/v1/%'),
          'the jobs scheduled before this change (hydrate-features, rocker-discovery-run, queue topics) were rebuilt');

insert into vault.secrets (name, secret)
select x.name, x.secret
from (values ('project_url', 'http://127.0.0.1:9'), ('service_role_key', 'k')) x(name, secret)
where not exists (select 1 from vault.secrets s where s.name = x.name);
create temp table ran (request_id bigint) on commit drop;
do $$
begin
  -- As pg_cron runs it: the job's command, verbatim.
  execute 'insert into pg_temp.ran ' || (select command from cron.job where jobname = 'hydrate-features');
end
$$;
select results_eq(
  $$ select q.jobname, q.request_id, q.requested_at from ops.cron_requests q
      where q.requested_at = now() $$,
  $$ select 'hydrate-features', r.request_id, now() from ran r $$,
  'running the command records its request id under the job''s name');
select results_eq(
  $$ select q.url like '%/functions/v1/hydrate-features', convert_from(q.body, 'UTF8')::jsonb
       from net.http_request_queue q join ran r on r.request_id = q.id $$,
  $$ values (true, '{"max_events": 100000}'::jsonb) $$,
  'and the request it returns is the POST to the function, body unchanged');

-- Fixtures: two function jobs and one plain SQL job, with runs and answers.
select from ops.schedule_function('test-fn-a', '* * * * *', 'health');
select from ops.schedule_function('test-fn-b', '*/5 * * * *', 'health');
select from cron.schedule('test-sql-job', '* * * * *', 'select 1');
insert into cron.job_run_details (jobid, job_pid, database, username, command, status,
                                  return_message, start_time, end_time)
select j.jobid, 1, 'postgres', 'postgres', j.command, r.status, 'x', now() - r.age,
       now() - r.age + interval '1 second'
from cron.job j
join (values ('test-fn-a', 'failed', interval '2 hours'),
             ('test-fn-a', 'succeeded', interval '50 minutes'),
             ('test-fn-a', 'failed', interval '30 minutes'),
             ('test-fn-a', 'succeeded', interval '10 minutes'),
             ('test-fn-b', 'succeeded', interval '40 minutes'),
             ('test-fn-b', 'succeeded', interval '30 minutes'),
             ('test-fn-b', 'succeeded', interval '15 minutes'),
             ('test-fn-b', 'succeeded', interval '5 minutes'),
             ('test-sql-job', 'failed', interval '5 minutes')) r(jobname, status, age)
  on r.jobname = j.jobname
-- pg_cron numbers runs as it starts them: oldest first.
order by now() - r.age;
insert into ops.cron_requests (request_id, jobname, requested_at) values
  (900001, 'test-fn-a', now() - interval '50 minutes'),  -- 200
  (900002, 'test-fn-a', now() - interval '10 minutes'),  -- 500: a failure
  (900003, 'test-fn-a', now() - interval '2 hours'),     -- 503, outside the hour
  (900006, 'test-fn-b', now() - interval '40 minutes'),  -- 200
  (900007, 'test-fn-b', now() - interval '30 minutes'),  -- timed out: a failure
  (900004, 'test-fn-b', now() - interval '15 minutes'),  -- no answer after 15 min: lost
  (900005, 'test-fn-b', now() - interval '5 minutes');   -- no answer yet: pending
insert into net._http_response (id, status_code, timed_out, error_msg, created) values
  (900001, 200, false, null, now() - interval '50 minutes'),
  (900002, 500, false, null, now() - interval '10 minutes'),
  (900003, 503, false, null, now() - interval '2 hours'),
  (900006, 200, false, null, now() - interval '40 minutes'),
  (900007, null, true, 'Timeout was reached', now() - interval '29 minutes');

select results_eq(
  $$ select jobname, schedule, last_run_at, last_status, last_http_status, failures_1h, runs_1h
       from public.vw_cron_health where jobname like 'test-%' $$,
  $$ values ('test-fn-a', '* * * * *', now() - interval '10 minutes', 'succeeded', 500, 2::bigint, 3::bigint),
            ('test-fn-b', '*/5 * * * *', now() - interval '5 minutes', 'succeeded', null, 2, 4) $$,
  'per job: the latest run, the latest answer, and the last hour''s failed runs plus failed, '
  'timed-out and lost requests');
select is((select failures_1h from ops.cron_health(now() + interval '10 minutes')
            where jobname = 'test-fn-b'), 3::bigint,
          'ten minutes on, the request that was pending is 15 minutes old and counts as lost');
select ok(not exists (select 1 from public.vw_cron_health where jobname = 'test-sql-job'),
          'jobs that do not call a function are not listed');

select tests.authenticate_as_service_role();
select is((select count(*)::int from public.vw_cron_health where jobname like 'test-%'), 2,
          'service_role reads vw_cron_health without rights on cron.* or net.*');
select tests.clear_authentication();
select ok(not has_table_privilege('authenticated', 'public.vw_cron_health', 'SELECT')
          and not has_table_privilege('anon', 'public.vw_cron_health', 'SELECT'),
          'clients cannot');

-- Pruning cron history to the configured age; a run still going is kept.
update ops.observability_settings set cron_history_retention = '1 day';
select results_eq(
  $$ select action, target, before ->> 'cron_history_retention', after ->> 'cron_history_retention'
       from public.ai_action_ledger where action = 'observability_settings.update' $$,
  $$ values ('observability_settings.update', 'ops.observability_settings', '7 days', '1 day') $$,
  'a settings change is on the ledger');
insert into cron.job_run_details (jobid, job_pid, database, username, command, status,
                                  return_message, start_time, end_time)
select j.jobid, 1, 'postgres', 'postgres', 'x', s, 'x', now() - interval '3 days',
       case when s = 'running' then null else now() - interval '3 days' end
from cron.job j, unnest(array['succeeded', 'failed', 'running']) s
where j.jobname = 'test-fn-a';
insert into ops.cron_requests (request_id, jobname, requested_at)
values (900010, 'test-fn-a', now() - interval '3 days');
select is(ops.prune_cron_history(), '{"job_run_details": 2, "cron_requests": 1}'::jsonb,
          'the prune reports what it removed');
select ok(not exists (select 1 from cron.job_run_details where end_time < now() - interval '1 day')
          and exists (select 1 from cron.job_run_details where status = 'running'
                        and start_time = now() - interval '3 days')
          and (select count(*) from cron.job_run_details d join cron.job j using (jobid)
                where j.jobname like 'test-fn-%') = 9,
          'runs older than the retention are gone; recent ones and a run still going stay');
select results_eq(
  $$ select action, actor, before ->> 'retention' from public.ai_action_ledger
      where action = 'cron.prune_history' $$,
  $$ values ('cron.prune_history', 'postgres', '1 day') $$,
  'the prune is on the ledger');

-- Pruning telemetry: spans and histograms past span_retention, minutes past rollup_retention,
-- signals past signal_retention.
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - interval '8 days', 'health', 1, true from generate_series(1, 3)
union all
select now() - interval '1 day', 'health', 1, true from generate_series(1, 2);
insert into public.kernel_signals (at, name, ok) values
  (now() - interval '40 days', 'email.delivery', true),
  (now() - interval '1 day', 'email.delivery', true);
insert into ops.kernel_span_minutes (minute, path, requests, errors, statused, server_errors,
                                     sum_ms, min_ms, max_ms)
values (date_bin('1 minute', now() - interval '40 days', '2000-01-01'), 'health', 1, 0, 0, 0, 1, 1, 1);
select is(ops.prune_kernel_telemetry(),
          '{"kernel_spans": 3, "kernel_signals": 1, "kernel_span_buckets": 1, "kernel_span_minutes": 1}'::jsonb,
          'telemetry prune removes each table''s rows past its retention');
select results_eq(
  $$ select (select count(*) from public.kernel_spans), (select count(*) from ops.kernel_span_minutes),
            (select count(*) from public.kernel_signals) $$,
  $$ values (2::bigint, 2::bigint, 1::bigint) $$,
  'recent spans, the 8-day-old minute (rollups keep 35 days) and the recent signal stay');

select results_eq(
  $$ select jobname::text collate "default", schedule, command from cron.job
      where jobname in ('cron-history-prune', 'kernel-telemetry-prune') order by jobname $$,
  $$ values ('cron-history-prune', '7 4 * * *', 'select ops.prune_cron_history()'),
            ('kernel-telemetry-prune', '37 4 * * *', 'select ops.prune_kernel_telemetry()') $$,
  'both prunes run daily');

select * from finish();
rollback;
