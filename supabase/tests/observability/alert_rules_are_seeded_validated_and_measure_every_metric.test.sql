-- public.alert_rules: the seeded tiers, rollback triggers, cutover thresholds and burn pairs;
-- rule validation and the ledger; and each metric family measured on fixtures with known
-- answers through vw_alerts.
begin;
select plan(22);

select results_eq(
  $$ select rule, severity, metric, comparison, threshold, eval_window, for_duration, auto_safe_mode
       from public.alert_rules order by rule $$,
  $$ values
     ('auth.failure_rate.critical', 'critical', 'span_error_rate', '>', 0.20::double precision, interval '15 minutes', interval '0', false),
     ('auth.failure_rate.info', 'info', 'span_error_rate', '>', 0.05, '15 minutes', '0', false),
     ('auth.failure_rate.warning', 'warning', 'span_error_rate', '>', 0.10, '15 minutes', '0', false),
     ('auth.login.p95', 'warning', 'span_p95_ms', '>', 600, '1 hour', '0', false),
     ('cron.function_failures', 'warning', 'cron_failures', '>', 0, null, '0', false),
     ('deeplink.failure.critical', 'critical', 'signal_failure_rate', '>', 0.10, '1 hour', '0', false),
     ('deeplink.failure.warning', 'warning', 'signal_failure_rate', '>', 0.05, '1 hour', '0', false),
     ('discovery.backlog_age', 'warning', 'queue_p95_age', '>', 300, null, '0', false),
     ('email.delivery.critical', 'critical', 'signal_success_rate', '<', 0.50, '1 hour', '0', false),
     ('email.delivery.info', 'info', 'signal_success_rate', '<', 0.90, '1 hour', '0', false),
     ('email.delivery.warning', 'warning', 'signal_success_rate', '<', 0.80, '1 hour', '0', false),
     ('http.5xx_rate', 'critical', 'span_5xx_rate', '>', 0.01, '15 minutes', '0', false),
     ('legacy_migration.failed_runs', 'warning', 'migration_failures', '>', 0, '15 minutes', '0', false),
     ('policy.exploration_rate', 'warning', 'exploration_deviation', '>', 0.5, null, '0', false),
     ('queue.dead_letters', 'warning', 'dead_letters', '>', 0, null, '0', false),
     ('registrations.drop.warning', 'warning', 'registration_drop', '>', 0.50, '1 hour', '0', false),
     ('registrations.zero.critical', 'critical', 'registrations', '<', 1, '30 minutes', '0', false),
     ('rollback.deeplink_failure', 'critical', 'signal_failure_rate', '>', 0.30, '5 minutes', '5 minutes', false),
     ('rollback.email_delivery', 'critical', 'signal_success_rate', '<', 0.30, '5 minutes', '10 minutes', false),
     ('rollback.registration_success', 'critical', 'signal_success_rate', '<', 0.50, '5 minutes', '15 minutes', false),
     ('rollback.rpc_error_rate', 'critical', 'span_error_rate', '>', 0.30, '5 minutes', '5 minutes', false),
     ('rpc.error_rate.critical', 'critical', 'span_error_rate', '>', 0.10, '15 minutes', '0', false),
     ('rpc.error_rate.warning', 'warning', 'span_error_rate', '>', 0.05, '15 minutes', '0', false),
     ('rpc.latency.info', 'info', 'span_avg_ms', '>', 500, '15 minutes', '0', false),
     ('rpc.latency.warning', 'warning', 'span_avg_ms', '>', 1000, '15 minutes', '0', false),
     ('slo.burn.page_1h', 'critical', 'slo_burn_pair', '>', 14.4, null, '0', true),
     ('slo.burn.page_6h', 'critical', 'slo_burn_pair', '>', 6, null, '0', true),
     ('slo.burn.ticket_3d', 'warning', 'slo_burn_pair', '>', 1, null, '0', false),
     ('slo.burn_rate', 'critical', 'slo_burn_rate', '>', 2.0, null, '0', true) $$,
  'every rule of the runbooks is seeded: tiers, rollback triggers with durations, cutover '
  'thresholds, workbook pairs');

-- Validation.
select throws_ok(
  $$ insert into public.alert_rules (rule, severity, metric, comparison, threshold, unit, eval_window, description)
     values ('x.y', 'warning', 'span_error_rate', '>', 0.1, 'ratio', '5 minutes', 'd') $$,
  '22023', 'x.y: params.path must be a span path, a prefix such as rpc.*, or *',
  'a span rule needs a path');
select throws_ok(
  $$ insert into public.alert_rules (rule, severity, metric, params, comparison, threshold, unit, description)
     values ('x.y', 'warning', 'span_error_rate', '{"path": "rpc.*"}', '>', 0.1, 'ratio', 'd') $$,
  '22023', 'x.y: eval_window is required for metric span_error_rate', 'and a window');
select throws_ok(
  $$ insert into public.alert_rules (rule, severity, metric, params, comparison, threshold, unit, eval_window, description)
     values ('x.y', 'warning', 'signal_failure_rate', '{"signal": "sms.delivery"}', '>', 0.1, 'ratio', '1 hour', 'd') $$,
  '22023', 'x.y: params.signal must be one of: auth.registration, deeplink.auth_callback, email.delivery',
  'a signal rule needs a known signal');
select throws_ok(
  $$ insert into public.alert_rules (rule, severity, metric, params, comparison, threshold, unit, description)
     values ('x.y', 'warning', 'slo_burn_pair', '{"long_window": "2h"}', '>', 3, 'burn', 'd') $$,
  '22023', 'x.y: params.long_window must be 1h, 6h or 3d', 'a burn pair rule needs a workbook pair');
select throws_ok(
  $$ insert into public.alert_rules (rule, severity, metric, params, comparison, threshold, unit, description)
     values ('x.y', 'warning', 'queue_p95_age', '{"queue": "jobs"}', '>', 3, 'seconds', 'd') $$,
  '22023', 'x.y: params.queue must be discovery or events', 'a queue rule needs a known queue');

-- Tuning is ledgered.
update public.alert_rules set threshold = 0.25 where rule = 'auth.failure_rate.critical';
select results_eq(
  $$ select action, target, (before ->> 'threshold')::float8, (after ->> 'threshold')::float8
       from public.ai_action_ledger where action = 'alert_rules.update' $$,
  $$ values ('alert_rules.update', 'public.alert_rules:auth.failure_rate.critical', 0.2::float8, 0.25::float8) $$,
  'a rule change is on the ledger');

-- Fixtures: remove what the stack may already hold, so each family's answer is the fixture's.
update auth.users set created_at = created_at - interval '60 days';
delete from public.events_queue;
delete from public.marketplace_discovery_queue;
delete from public.learning_events;

-- Signals over the last hour: email delivered 6 of 10 (60 %), deep links failed 3 of 20 (15 %).
insert into public.kernel_signals (at, name, ok)
select now() - interval '10 minutes', 'email.delivery', g <= 6 from generate_series(1, 10) g
union all
select now() - interval '20 minutes', 'deeplink.auth_callback', g > 3 from generate_series(1, 20) g;
-- Spans a minute ago: 200 function requests with a status, 4 of them 5xx (2 %); 30 sign-ins at
-- 800 ms; 25 RPCs averaging 1,200 ms.
insert into public.kernel_spans (at, path, status, duration_ms, ok)
select now() - interval '1 minute', 'health', case when g <= 4 then 503 else 200 end, 5, g > 4
from generate_series(1, 200) g
union all
select now() - interval '1 minute', 'auth.login', null, 800, true from generate_series(1, 30)
union all
select now() - interval '1 minute', 'rpc.slow_report', null, 1200, true from generate_series(1, 25);
-- Registrations: 1,008 in the 7 days before the last hour (6 an hour, 3 per half hour) and none
-- since.
insert into auth.users (id, email, created_at)
select gen_random_uuid(), 'alerts-' || g || '@example.test',
       now() - interval '1 hour' - g * interval '9 minutes'
from generate_series(0, 1007) g;
-- One dead letter; discovery work queued 10 minutes ago.
insert into public.events_queue (topic, payload, status, last_error) values ('t.dlq', '{}', 'error', 'boom');
insert into public.marketplace_discovery_queue (interest_id, user_id, created_at, run_at)
select gen_random_uuid(), (select id from auth.users where email = 'alerts-0@example.test'),
       now() - interval '10 minutes', now() - interval '10 minutes'
from generate_series(1, 3);
-- The ranker explored half of 200 slots where ε = 0.1 with 10 candidates expects 9 %.
insert into public.learning_events (policy, surface, candidate_id, p_exp, explored, context)
select 'epsilon_greedy_v1', 'feed', 'c' || g, 0.5, g % 2 = 0, '{"epsilon": 0.1, "k": 10}'
from generate_series(1, 200) g;

select results_eq(
  $$ select rule, firing, round(value::numeric, 4) from public.vw_alerts
      where rule like 'email.%' or rule like 'deeplink.%' order by rule $$,
  $$ values ('deeplink.failure.critical', true, 0.15),
            ('deeplink.failure.warning', true, 0.15),
            ('email.delivery.critical', false, 0.6),
            ('email.delivery.info', true, 0.6),
            ('email.delivery.warning', true, 0.6) $$,
  'client signals: email delivery 60 % and deep-link failure 15 % against each tier');
select results_eq(
  $$ select firing, value from public.vw_alerts where rule = 'http.5xx_rate' $$,
  $$ values (true, 0.02::double precision) $$,
  '5xx rate: 4 of 200 requests with a status');
select ok((select firing and value between 800 / 1.0443 and 800 from public.vw_alerts
            where rule = 'auth.login.p95'),
          'auth.login p95 (about 800 ms) is above 600 ms');
select results_eq(
  $$ select rule, firing, value from public.vw_alerts where rule like 'rpc.latency.%' order by rule $$,
  $$ values ('rpc.latency.info', true, 1200::double precision),
            ('rpc.latency.warning', true, 1200) $$,
  'RPC average response time against 500 ms and 1 s');
select results_eq(
  $$ select rule, firing, value from public.vw_alerts where rule like 'registrations.%' order by rule $$,
  $$ values ('registrations.drop.warning', true, 1::double precision),
            ('registrations.zero.critical', true, 0) $$,
  'registrations: none where the last 7 days expect 6 an hour: down 100 %, zero for 30 minutes');
select results_eq(
  $$ select firing, value, detail from public.vw_alerts where rule = 'queue.dead_letters' $$,
  $$ values (true, 1::double precision,
             '1 (fires when > 0); events_queue 1, marketplace_discovery_queue 0') $$,
  'the dead-letter queue is not empty');
select ok((select firing and value between 600 and 601 from public.vw_alerts
            where rule = 'discovery.backlog_age'),
          'discovery backlog p95 age (600 s) is above 300 s');
select ok((select firing and round(value::numeric, 4) = round(((0.5 - 0.09) / 0.09)::numeric, 4)
             from public.vw_alerts where rule = 'policy.exploration_rate'),
          'exploration 50 % against an expected 9 % (epsilon 0.1 with 10 candidates) deviates 456 %');

-- The traffic floor: the same signal rates with fewer events than min_events report but do
-- not fire.
update public.alert_rules set min_events = 11 where rule like 'email.delivery.%';
select results_eq(
  $$ select bool_or(firing), min(detail) from public.vw_alerts where rule = 'email.delivery.warning' $$,
  $$ values (false, '60.0 % (fires when < 80.0 %); window 1 h; 10 events; below the traffic floor of 11') $$,
  'below its traffic floor a rule shows its value but does not fire');

-- A rule measured from a view that is not there reports no data instead of failing.
alter view public.vw_policy_health rename to vw_policy_health_hidden;
select results_eq(
  $$ select firing, value, detail from public.vw_alerts where rule = 'policy.exploration_rate' $$,
  $$ values (false, null::double precision, 'no data (fires when > 50.0 %)') $$,
  'without vw_policy_health the exploration rule reports no data');
alter view public.vw_policy_health_hidden rename to vw_policy_health;

-- Cron → function failures in the last hour.
insert into cron.job_run_details (jobid, job_pid, database, username, command, status,
                                  return_message, start_time, end_time)
select j.jobid, 1, 'postgres', 'postgres', j.command, 'failed', 'boom',
       now() - interval '5 minutes', now() - interval '5 minutes'
from cron.job j where j.jobname = 'hydrate-features';
select ok((select firing and value >= 1 and detail like '%hydrate-features: 1 failed of 1 runs%'
             from public.vw_alerts where rule = 'cron.function_failures'),
          'a failed cron → function run fires and is named');

-- Disabled rules are not shown or evaluated.
update public.alert_rules set enabled = false where rule = 'queue.dead_letters';
select ok(not exists (select 1 from public.vw_alerts where rule = 'queue.dead_letters'),
          'a disabled rule is left out');

-- Who may read and change rules.
select tests.authenticate_as_service_role();
select lives_ok($$ select * from public.vw_alerts $$, 'service_role reads vw_alerts');
select lives_ok($$ update public.alert_rules set threshold = threshold where rule = 'http.5xx_rate' $$,
                'service_role may tune rules');
select tests.clear_authentication();
select ok(not has_table_privilege('authenticated', 'public.alert_rules', 'SELECT')
          and not has_table_privilege('authenticated', 'public.vw_alerts', 'SELECT')
          and not has_table_privilege('anon', 'public.vw_alerts', 'SELECT'),
          'clients can neither read rules nor alerts');

select * from finish();
rollback;
