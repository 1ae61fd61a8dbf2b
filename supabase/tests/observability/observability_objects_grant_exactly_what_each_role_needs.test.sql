-- Every table, view and function of the observability migrations: RLS on, and exactly these
-- privileges per API role (anon nothing; authenticated only the two client reporting
-- functions; service_role reads, writes spans through ops.record_spans, tunes settings,
-- objectives and rules; the owner alone prunes, evaluates alerts and reads Vault).
begin;
select plan(4);

select is_empty(
  $$ select format('%I.%I', n.nspname, c.relname)
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where format('%I.%I', n.nspname, c.relname) in (
              'public.kernel_spans', 'public.kernel_signals', 'public.kernel_slos',
              'public.alert_rules', 'ops.observability_settings', 'ops.kernel_span_minutes',
              'ops.kernel_span_buckets', 'ops.cron_requests', 'ops.alert_state')
        and not c.relrowsecurity $$,
  'every observability table has row level security on');

select results_eq(
  $$ select r.rel, r.role, array(
              select p from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                         'REFERENCES', 'TRIGGER']) p
               where has_table_privilege(r.role, r.rel, p)) as privileges
       from unnest(array[
              'public.kernel_spans', 'public.kernel_signals', 'public.kernel_slos',
              'public.alert_rules', 'public.vw_kernel_slos', 'public.vw_slo_burnrate',
              'public.vw_slo_stability', 'public.vw_cron_health',
              'public.vw_auth_registrations_daily', 'public.vw_auth_failure_rate',
              'public.vw_alerts', 'ops.observability_settings', 'ops.kernel_span_minutes',
              'ops.kernel_span_buckets', 'ops.cron_requests', 'ops.alert_state']) rel
      cross join unnest(array['anon', 'authenticated', 'service_role']) role
      cross join lateral (select rel, role) r
      where r.role = 'service_role' or cardinality(array(
              select p from unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                         'REFERENCES', 'TRIGGER']) p
               where has_table_privilege(r.role, r.rel, p))) > 0
      order by 1, 2 $$,
  $$ values
     ('ops.alert_state', 'service_role', array['SELECT']),
     ('ops.cron_requests', 'service_role', array['SELECT']),
     ('ops.kernel_span_buckets', 'service_role', array['SELECT']),
     ('ops.kernel_span_minutes', 'service_role', array['SELECT']),
     ('ops.observability_settings', 'service_role', array['SELECT', 'UPDATE']),
     ('public.alert_rules', 'service_role', array['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
     ('public.kernel_signals', 'service_role', array['SELECT']),
     ('public.kernel_slos', 'service_role', array['SELECT', 'INSERT', 'UPDATE', 'DELETE']),
     ('public.kernel_spans', 'service_role', array['SELECT']),
     ('public.vw_alerts', 'service_role', array['SELECT']),
     ('public.vw_auth_failure_rate', 'service_role', array['SELECT']),
     ('public.vw_auth_registrations_daily', 'service_role', array['SELECT']),
     ('public.vw_cron_health', 'service_role', array['SELECT']),
     ('public.vw_kernel_slos', 'service_role', array['SELECT']),
     ('public.vw_slo_burnrate', 'service_role', array['SELECT']),
     ('public.vw_slo_stability', 'service_role', array['SELECT']) $$,
  'table and view privileges: service_role only, and only what it needs');

-- Functions: who may execute each one the observability migrations define.
create temp table expected_execute (fn text primary key, roles text[]) on commit drop;
insert into expected_execute values
  ('public.record_kernel_span(text,real,boolean)', '{authenticated}'),
  ('public.record_client_signal(text,boolean)', '{authenticated}'),
  ('ops.record_spans(jsonb)', '{service_role}'),
  ('ops.latency_bucket(double precision)', '{service_role}'),
  ('ops.latency_bucket_lower(smallint)', '{service_role}'),
  ('ops.latency_bucket_upper(smallint)', '{service_role}'),
  ('ops.is_span_path(text)', '{service_role}'),
  ('ops.span_problem(jsonb,bigint)', '{service_role}'),
  ('ops.client_signal_names()', '{service_role}'),
  ('ops.path_matches(text,text)', '{service_role}'),
  ('ops.path_pattern_rank(text)', '{service_role}'),
  ('ops.closest_slo(text,text)', '{service_role}'),
  ('ops.kernel_span_totals(timestamp with time zone,interval[])', '{service_role}'),
  ('ops.kernel_span_histogram(timestamp with time zone,interval)', '{service_role}'),
  ('ops.latency_quantile(double precision,smallint[],bigint[],double precision,double precision)', '{service_role}'),
  ('ops.kernel_slos(timestamp with time zone)', '{service_role}'),
  ('ops.slo_window_pairs()', '{service_role}'),
  ('ops.slo_burnrate(timestamp with time zone)', '{service_role}'),
  ('ops.kernel_signal_totals(timestamp with time zone,interval[])', '{service_role}'),
  ('ops.slo_stability(timestamp with time zone)', '{service_role}'),
  ('ops.cron_health(timestamp with time zone)', '{service_role}'),
  ('ops.auth_registrations_daily(timestamp with time zone)', '{service_role}'),
  ('ops.auth_failure_rate(timestamp with time zone)', '{service_role}'),
  ('ops.auth_registration_counts(timestamp with time zone,interval)', '{service_role}'),
  ('ops.alert_exploration_deviation(integer)', '{service_role}'),
  ('ops.alert_values(timestamp with time zone)', '{service_role}'),
  ('ops.alert_format(double precision,text)', '{service_role}'),
  ('ops.alert_duration(interval)', '{service_role}'),
  ('ops.alerts(timestamp with time zone)', '{service_role}'),
  ('ops.alert_message(text,text,boolean,text,text,text,text,text,text)', '{service_role}'),
  ('metrics.record_deployment(text,text,text,text,text,timestamp with time zone,timestamp with time zone)', '{service_role}'),
  ('ops.kernel_spans_rollup()', '{}'),
  ('ops.take_client_telemetry_budget(text)', '{}'),
  ('ops.observability_config_changed()', '{}'),
  ('ops.note_cron_request(text,bigint)', '{}'),
  ('ops.prune_cron_history()', '{}'),
  ('ops.prune_kernel_telemetry()', '{}'),
  ('ops.alert_rules_validate()', '{}'),
  ('ops.post_alert(jsonb)', '{}'),
  ('ops.evaluate_alerts(timestamp with time zone)', '{}'),
  ('ops.schedule_function(text,text,text,jsonb,integer)', '{}');

select results_eq(
  $$ select e.fn, array(select r from unnest(array['anon', 'authenticated', 'service_role']) r
                         where has_function_privilege(r, e.fn::regprocedure, 'EXECUTE'))
       from expected_execute e order by e.fn $$,
  $$ select e.fn, e.roles from expected_execute e order by e.fn $$,
  'each function is executable by exactly the roles that need it');

-- And no observability function was left out of the list above.
select is_empty(
  $$ select f.fn
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      cross join lateral (select format('%s.%s(%s)', n.nspname, p.proname,
                                        replace(oidvectortypes(p.proargtypes), ', ', ',')) as fn) f
      where n.nspname in ('public', 'ops', 'metrics')
        and p.proname ~ '^(record_kernel_span|record_client_signal|record_spans|latency_|is_span_path|span_problem|client_signal_names|path_|kernel_|slo_|cron_health|auth_(registrations_daily|failure_rate|registration_counts)|closest_slo|alert|observability_|take_client|note_cron|prune_(cron_history|kernel_telemetry)|post_alert|evaluate_alerts|record_deployment)'
        and f.fn not in (select e.fn from expected_execute e) $$,
  'every observability function is in the list');

select * from finish();
rollback;
