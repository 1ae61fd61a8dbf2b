-- Legacy migration, part 6: the failed-runs alert (seed 000: "create alerts for status=failed
-- events in user_migrations"). Rule legacy_migration.failed_runs counts real runs (not dry
-- runs, which always end 'failed' / 'Dry run complete') that failed within its window, and
-- names their reasons. Its metric, migration_failures, is measured by ops.alert_values
-- (20261202040400_observability_alerts.sql). docs/legacy-migration.md, docs/observability.md.


-- =============================================================================================
-- Seed: the rule
-- =============================================================================================

select pg_catalog.set_config('app.actor', 'migration:20261202060500', true),
       pg_catalog.set_config('app.reason', 'seed the legacy migration failed-runs alert', true);

-- 15 minutes, the tier rates' window: a failed real run is acted on within minutes, and the
-- rule resolves on its own a quarter of an hour after the last failure. Any failure fires: a
-- real run fails on bad legacy data, a Storage or database fault or a crashed isolate, and
-- each of those is worth a look.
insert into public.alert_rules
  (rule, severity, metric, params, comparison, threshold, unit, eval_window, for_duration,
   min_events, auto_safe_mode, description, action)
values
  ('legacy_migration.failed_runs', 'warning', 'migration_failures', '{}', '>', 0, 'count',
   '15 minutes', '0', 0, false,
   'Legacy migration runs (not dry runs) failed in the last 15 minutes',
   'Read the reasons in public.user_migrations; if runs keep failing, follow the '
   'docs/legacy-migration.md rollback plan');

select pg_catalog.set_config('app.actor', '', true),
       pg_catalog.set_config('app.reason', '', true);
