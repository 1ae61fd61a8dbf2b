-- The failed-runs alert (seed 000: alerts for status=failed in user_migrations): rule
-- legacy_migration.failed_runs is seeded, counts real runs that failed within its 15-minute
-- window and names their reasons in vw_alerts; dry runs (always 'failed' / 'Dry run
-- complete'), older failures and completed runs do not count; the evaluator records it firing;
-- the metric needs a window and the metric list still refuses unknown metrics.
begin;
select plan(12);

select from tests.create_supabase_user('ana');
-- Only this test's runs are measured.
delete from public.user_migrations;

-- A finished run of ana's, `p_age` before the transaction's now (what vw_alerts measures at).
create function pg_temp.finished_run(p_status text, p_dry_run boolean, p_message text,
                                     p_age interval)
returns void
language sql
as $$
  insert into public.user_migrations (user_id, status, dry_run, message, started_at, finished_at)
  values (tests.get_supabase_uid('ana'), p_status, p_dry_run, p_message,
          pg_catalog.now() - p_age - interval '10 seconds', pg_catalog.now() - p_age)
$$;

select results_eq(
  $$ select severity, metric, params, comparison, threshold, unit, eval_window, for_duration,
            min_events, auto_safe_mode, enabled, action like '%docs/legacy-migration.md rollback plan'
       from public.alert_rules where rule = 'legacy_migration.failed_runs' $$,
  $$ values ('warning'::text, 'migration_failures'::text, '{}'::jsonb, '>'::text,
             0::double precision, 'count'::text, interval '15 minutes', interval '0', 0, false,
             true, true) $$,
  'the rule is seeded: any failed real run within 15 minutes, pointing at the rollback plan');

select results_eq(
  $$ select value, firing from public.vw_alerts where rule = 'legacy_migration.failed_runs' $$,
  $$ values (0::double precision, false) $$,
  'no runs: zero failures, not firing');

-- A dry run always ends failed / 'Dry run complete': it is not a failure.
select pg_temp.finished_run('failed', true, 'Dry run complete', interval '1 minute');
select results_eq(
  $$ select value, firing from public.vw_alerts where rule = 'legacy_migration.failed_runs' $$,
  $$ values (0::double precision, false) $$,
  'a failed dry run within the window does not fire');

-- Failures at or before the window's start (it is (now - 15 minutes, now]), completed runs and
-- running ones do not count either.
select pg_temp.finished_run('failed', false, 'Storage copy failed: old', interval '15 minutes');
select pg_temp.finished_run('failed', false, 'Storage copy failed: older', interval '2 hours');
select pg_temp.finished_run('completed', false, 'Migration complete', interval '1 minute');
insert into public.user_migrations (user_id, status, dry_run)
values (tests.get_supabase_uid('ana'), 'running', false);
select results_eq(
  $$ select value, firing from public.vw_alerts where rule = 'legacy_migration.failed_runs' $$,
  $$ values (0::double precision, false) $$,
  'a real failure 15 minutes or more ago does not fire, nor do completed or running runs');

-- A real failure inside the window fires.
select pg_temp.finished_run('failed', false,
                            'Storage copy in casfolio-legacy failed (503): unavailable',
                            interval '14 minutes 59 seconds');
select results_eq(
  $$ select severity, value, firing, since = pg_catalog.now(), detail
       from public.vw_alerts where rule = 'legacy_migration.failed_runs' $$,
  $$ values ('warning'::text, 1::double precision, true, true,
             '1 (fires when > 0); window 15 min; 1 events; '
             'Storage copy in casfolio-legacy failed (503): unavailable (1)'::text) $$,
  'a failed real run within the window fires, and the detail names its reason');

-- Reasons are distinct, commonest first, with their counts.
select pg_temp.finished_run('failed', false, 'Abandoned: no result within 15 minutes',
                            interval '3 minutes');
select pg_temp.finished_run('failed', false, 'Abandoned: no result within 15 minutes',
                            interval '2 minutes');
select pg_temp.finished_run('failed', false, null, interval '1 minute');
select results_eq(
  $$ select value, firing, detail from public.vw_alerts
      where rule = 'legacy_migration.failed_runs' $$,
  $$ values (4::double precision, true,
             '4 (fires when > 0); window 15 min; 4 events; '
             'Abandoned: no result within 15 minutes (2) | (no message) (1) | '
             'Storage copy in casfolio-legacy failed (503): unavailable (1)'::text) $$,
  'several failures: each reason once with its count, commonest first');

-- At most five reasons, each cut to 200 characters, so the webhook message stays short.
select pg_temp.finished_run('failed', false, 'preflight ' || g || repeat('x', 300),
                            interval '1 minute')
from generate_series(1, 4) g;
select ok(
  (select value = 8
          and detail like '%preflight 1' || repeat('x', 189) || ' (1) | %'
          and detail like '%| 2 more'
          and (length(detail) - length(replace(detail, ' | ', ''))) / 3 = 5
     from public.vw_alerts where rule = 'legacy_migration.failed_runs'),
  'the detail lists five of the seven reasons, each cut to 200 characters, and 2 more');

-- The evaluator records the change (no webhook secret here: state and ledger only).
select results_eq(
  $$ select firing, value from ops.evaluate_alerts()
      where rule = 'legacy_migration.failed_runs' $$,
  $$ values (true, 8::double precision) $$,
  'ops.evaluate_alerts reports the rule as newly firing');
select results_eq(
  $$ select actor, (after ->> 'severity') from public.ai_action_ledger
      where action = 'alert.firing' and target = 'alert:legacy_migration.failed_runs' $$,
  $$ values ('alerts'::text, 'warning'::text) $$,
  'and writes it to the ledger');

-- The metric is validated like the other windowed counts.
select throws_ok(
  $$ insert into public.alert_rules (rule, severity, metric, comparison, threshold, unit, description)
     values ('x.y', 'warning', 'migration_failures', '>', 0, 'count', 'd') $$,
  '22023', 'x.y: eval_window is required for metric migration_failures',
  'a migration_failures rule needs a window');
select throws_ok(
  $$ insert into public.alert_rules (rule, severity, metric, comparison, threshold, unit, eval_window, description)
     values ('x.y', 'warning', 'migration_failure', '>', 0, 'count', '1 hour', 'd') $$,
  '23514', null,
  'the metric list still refuses an unknown metric');

-- A disabled rule is not measured.
update public.alert_rules set enabled = false where rule = 'legacy_migration.failed_runs';
select is_empty(
  $$ select 1 from ops.alert_values(pg_catalog.now()) where rule = 'legacy_migration.failed_runs' $$,
  'a disabled rule is not measured');

select * from finish();
rollback;
