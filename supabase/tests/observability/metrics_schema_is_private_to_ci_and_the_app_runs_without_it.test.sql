-- The `metrics` schema: service_role (CI/CD) records deployments, CI runs and migration runs;
-- anon and authenticated cannot even resolve it; nothing in the app refers to it, and with the
-- schema dropped the health check and a queue round trip still work.
begin;
select plan(17);

select tests.rls_enabled('metrics');
select ok(not has_schema_privilege('anon', 'metrics', 'USAGE')
          and not has_schema_privilege('authenticated', 'metrics', 'USAGE')
          and has_schema_privilege('service_role', 'metrics', 'USAGE'),
          'only service_role may use schema metrics');
select is_empty(
  $$ select format('%s:%s', c.relname, p.privilege)
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p(privilege)
      cross join unnest(array['anon', 'authenticated']) r(role)
      where n.nspname = 'metrics' and c.relkind in ('r', 'v', 'S')
        and has_table_privilege(r.role, c.oid, p.privilege) $$,
  'anon and authenticated hold no privilege on any metrics table');
select ok(not has_function_privilege('anon', 'metrics.record_deployment(text, text, text, text, text, timestamptz, timestamptz)', 'EXECUTE')
          and not has_function_privilege('authenticated', 'metrics.record_deployment(text, text, text, text, text, timestamptz, timestamptz)', 'EXECUTE')
          and has_function_privilege('service_role', 'metrics.record_deployment(text, text, text, text, text, timestamptz, timestamptz)', 'EXECUTE'),
          'only service_role may call metrics.record_deployment');

-- A pipeline reports a deployment at both ends.
select tests.authenticate_as_service_role();
create temp table ids (id bigint) on commit drop;
grant all on ids to service_role;
insert into ids
select metrics.record_deployment(p_environment => 'staging', p_component => 'migrations',
                                 p_version => 'v1.4.0', p_git_sha => 'abc1234');
select is(
  metrics.record_deployment(p_environment => 'staging', p_component => 'migrations',
                            p_version => 'v1.4.0', p_git_sha => 'abc1234',
                            p_status => 'succeeded'),
  (select id from ids),
  'finishing a deployment updates the row its start created');
select results_eq(
  $$ select environment, component, version, git_sha, status, started_at = now(), finished_at = now()
       from metrics.deployments $$,
  $$ values ('staging', 'migrations', 'v1.4.0', 'abc1234', 'succeeded', true, true) $$,
  'the deployment is recorded with its outcome and timing');
select isnt(
  metrics.record_deployment('production', 'functions', 'v1.4.0', 'abc1234', 'failed'),
  (select id from ids),
  'an outcome without a reported start is recorded as a finished deployment of its own');
select throws_ok(
  $$ select metrics.record_deployment('dev', 'functions', 'v1', 'abc1234') $$, '22023',
  'p_environment must be staging or production', 'only staging and production exist');
select throws_ok(
  $$ select metrics.record_deployment('staging', 'functions', 'v1', 'not-a-sha') $$, '22023',
  'p_git_sha must be 7 to 40 lowercase hex digits', 'the commit must be a git sha');
select throws_ok(
  $$ select metrics.record_deployment('staging', 'functions', 'v1', 'abc1234', 'done') $$, '22023',
  'p_status must be started, succeeded, failed or rolled_back', 'the status is one of four');
select lives_ok(
  $$ insert into metrics.ci_runs (workflow, run_id, branch, git_sha, status, tests_passed)
     values ('ci', '123', 'main', 'abc1234', 'success', 250);
     insert into metrics.migration_runs (environment, version, name, status, duration_ms)
     values ('production', '20261202040500', 'metrics_cicd_schema', 'applied', 40) $$,
  'service_role records CI runs and migration runs');
select tests.clear_authentication();

select from tests.create_supabase_user('ci-curious');
select tests.authenticate_as('ci-curious');
select throws_ok($$ select * from metrics.deployments $$, '42501', null,
                 'a signed-in user cannot read deployments');
select tests.clear_authentication();

-- Nothing outside the schema refers to it: no catalog dependency, and no function body in
-- public or ops names it (plpgsql bodies record no dependencies).
select is_empty(
  $$ select dep.type || ' ' || dep.identity
       from pg_depend d
      cross join lateral pg_identify_object(d.refclassid, d.refobjid, 0) ref
      cross join lateral pg_identify_object(d.classid, d.objid, d.objsubid) dep
      where (ref.schema = 'metrics' or (ref.type = 'schema' and ref.identity = 'metrics'))
        and coalesce(dep.schema, '') not in ('metrics', 'pg_toast')
        -- a column default, constraint or policy of a metrics table is the table's own
        and dep.identity !~ '(^| )(on|for) metrics\.' $$,
  'no object outside metrics depends on anything in it');
select is_empty(
  $$ select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname in ('public', 'ops') and p.prosrc ~* '\mmetrics\.' $$,
  'no public or ops function mentions the metrics schema');

-- Drop it (this transaction only) and run the app.
set local client_min_messages = warning;
drop schema metrics cascade;
select is((public.health_check() #>> '{app,status}'), 'ok', 'the health check runs without metrics');
create temp table leased on commit drop as
select * from public.lease_events(p_topic => 'metrics.drop', p_limit => 1, p_ttl_seconds => 30)
where false;
select from public.enqueue_event(p_topic => 'metrics.drop', p_payload => '{}');
insert into leased
select * from public.lease_events(p_topic => 'metrics.drop', p_limit => 1, p_ttl_seconds => 30);
select is((select count(*)::int from leased), 1, 'a worker leases the job without metrics');
select is(public.ack_events(p_ids => (select array_agg(id) from leased),
                            p_lease_token => (select lease_token from leased limit 1)),
          1, 'and acknowledges it');

select * from finish();
rollback;
