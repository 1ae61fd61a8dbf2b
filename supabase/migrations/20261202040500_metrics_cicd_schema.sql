-- The `metrics` schema: what CI/CD records about itself (deployments, CI runs, migration runs),
-- kept apart from the application. The app never reads it and nothing in public or ops refers
-- to it, so it can be dropped (`drop schema metrics cascade`) or fail to migrate without the
-- app noticing; a pgTAP test drops it and runs the health check and a queue round trip.
-- service_role writes (pipelines use the service key or the database URL); anon and
-- authenticated cannot even resolve its names. docs/observability.md.


-- =============================================================================================
-- Schema and privileges
-- =============================================================================================

create schema metrics;
comment on schema metrics is
  'CI/CD metrics (deployments, CI runs, migration runs). Never read by the app.';
revoke all on schema metrics from public, anon, authenticated;
grant usage on schema metrics to service_role;


-- =============================================================================================
-- Tables
-- =============================================================================================

-- One row per deployment of a component (a migration set, an Edge Function, the app) to an
-- environment: started, then finished with its outcome. `version` is the release name or tag,
-- `git_sha` the commit (7 to 40 hex digits).
create table metrics.deployments (
  id bigint generated always as identity primary key,
  environment text not null check (environment in ('staging', 'production')),
  component text not null check (pg_catalog.length(component) between 1 and 100),
  version text not null check (pg_catalog.length(version) between 1 and 100),
  git_sha text not null check (git_sha ~ '^[0-9a-f]{7,40}$'),
  status text not null check (status in ('started', 'succeeded', 'failed', 'rolled_back')),
  started_at timestamptz not null default pg_catalog.now(),
  finished_at timestamptz,
  check (finished_at is null or finished_at >= started_at),
  check ((status = 'started') = (finished_at is null))
);

comment on table metrics.deployments is
  'Deployments per environment and component: version, commit, outcome, timing.';

-- "What is deployed where" and "the last deployments of X" read the newest rows per target.
create index deployments_target_idx
  on metrics.deployments (environment, component, started_at desc);

-- One row per CI workflow run.
create table metrics.ci_runs (
  id bigint generated always as identity primary key,
  provider text not null default 'github' check (pg_catalog.length(provider) between 1 and 50),
  workflow text not null check (pg_catalog.length(workflow) between 1 and 200),
  run_id text not null check (pg_catalog.length(run_id) between 1 and 100),
  branch text check (pg_catalog.length(branch) <= 200),
  git_sha text not null check (git_sha ~ '^[0-9a-f]{7,40}$'),
  status text not null
    check (status in ('queued', 'in_progress', 'success', 'failure', 'cancelled')),
  started_at timestamptz not null default pg_catalog.now(),
  finished_at timestamptz,
  tests_passed int check (tests_passed >= 0),
  tests_failed int check (tests_failed >= 0),
  check (finished_at is null or finished_at >= started_at),
  unique (provider, run_id)
);

comment on table metrics.ci_runs is 'CI workflow runs: workflow, commit, outcome, test counts.';

-- One row per migration file applied (or refused) in an environment.
create table metrics.migration_runs (
  id bigint generated always as identity primary key,
  environment text not null check (environment in ('staging', 'production')),
  version text not null check (version ~ '^[0-9]{14}$'),
  name text not null check (pg_catalog.length(name) between 1 and 200),
  git_sha text check (git_sha ~ '^[0-9a-f]{7,40}$'),
  status text not null check (status in ('applied', 'failed', 'skipped')),
  duration_ms int check (duration_ms >= 0),
  applied_at timestamptz not null default pg_catalog.now()
);

comment on table metrics.migration_runs is 'Migration files applied per environment, with outcome.';

create index migration_runs_env_idx on metrics.migration_runs (environment, applied_at desc);

alter table metrics.deployments enable row level security;
alter table metrics.ci_runs enable row level security;
alter table metrics.migration_runs enable row level security;

-- service_role (pipelines) reads and writes; stated although it bypasses RLS. No policy for
-- anon or authenticated, and no grants either.
create policy deployments_service_all on metrics.deployments
  for all to service_role using (true) with check (true);
create policy ci_runs_service_all on metrics.ci_runs
  for all to service_role using (true) with check (true);
create policy migration_runs_service_all on metrics.migration_runs
  for all to service_role using (true) with check (true);

revoke all on metrics.deployments, metrics.ci_runs, metrics.migration_runs
  from public, anon, authenticated, service_role;
grant select, insert, update on metrics.deployments, metrics.ci_runs, metrics.migration_runs
  to service_role;


-- =============================================================================================
-- metrics.record_deployment
-- =============================================================================================

-- What a pipeline calls at both ends of a deployment. With p_status 'started' it inserts a row
-- and returns its id. With an outcome ('succeeded', 'failed', 'rolled_back') it finishes the
-- newest unfinished row of the same environment, component and commit (finished_at =
-- p_finished_at, default now()), or, when the pipeline never reported a start, inserts a
-- finished row; it returns that row's id. Errors: 22023 naming the parameter. Invoker rights:
-- service_role holds the table grants it needs.
create function metrics.record_deployment(
  p_environment text,
  p_component text,
  p_version text,
  p_git_sha text,
  p_status text default 'started',
  p_started_at timestamptz default null,
  p_finished_at timestamptz default null
)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
  deployment_id bigint;
begin
  -- GUARD: arguments, with messages that name them.
  if p_environment is null or p_environment not in ('staging', 'production') then
    raise exception 'p_environment must be staging or production' using errcode = '22023';
  end if;
  if p_component is null or pg_catalog.length(p_component) not between 1 and 100 then
    raise exception 'p_component must be 1 to 100 characters' using errcode = '22023';
  end if;
  if p_version is null or pg_catalog.length(p_version) not between 1 and 100 then
    raise exception 'p_version must be 1 to 100 characters' using errcode = '22023';
  end if;
  if p_git_sha is null or p_git_sha !~ '^[0-9a-f]{7,40}$' then
    raise exception 'p_git_sha must be 7 to 40 lowercase hex digits' using errcode = '22023';
  end if;
  if p_status is null or p_status not in ('started', 'succeeded', 'failed', 'rolled_back') then
    raise exception 'p_status must be started, succeeded, failed or rolled_back'
      using errcode = '22023';
  end if;
  if p_status = 'started' and p_finished_at is not null then
    raise exception 'p_finished_at must be null for a started deployment' using errcode = '22023';
  end if;

  if p_status = 'started' then
    insert into metrics.deployments (environment, component, version, git_sha, status, started_at)
    values (p_environment, p_component, p_version, p_git_sha, 'started',
            coalesce(p_started_at, pg_catalog.now()))
    returning id into deployment_id;
    return deployment_id;
  end if;

  update metrics.deployments d
     set status = p_status,
         finished_at = coalesce(p_finished_at, pg_catalog.now()),
         version = p_version
   where d.id = (select o.id from metrics.deployments o
                  where o.environment = p_environment and o.component = p_component
                    and o.git_sha = p_git_sha and o.status = 'started'
                  order by o.started_at desc, o.id desc
                  limit 1
                  for update)
  returning d.id into deployment_id;

  if deployment_id is null then
    insert into metrics.deployments
      (environment, component, version, git_sha, status, started_at, finished_at)
    values (p_environment, p_component, p_version, p_git_sha, p_status,
            coalesce(p_started_at, p_finished_at, pg_catalog.now()),
            coalesce(p_finished_at, pg_catalog.now()))
    returning id into deployment_id;
  end if;
  return deployment_id;
end
$$;
revoke all on function metrics.record_deployment(text, text, text, text, text, timestamptz,
                                                 timestamptz) from public;
grant execute on function metrics.record_deployment(text, text, text, text, text, timestamptz,
                                                    timestamptz) to service_role;
