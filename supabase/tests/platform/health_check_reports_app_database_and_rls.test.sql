-- public.health_check(): the shape the health function and the ops CLI read, callable by anon,
-- honest about RLS coverage, and silent about secrets.
begin;
select plan(22);

-- A recorded migration, so the reported version is known whatever this cluster's ledger holds.
insert into supabase_migrations.schema_migrations (version, name, statements)
values ('99991231235959', 'health_check_probe', '{}');

-- A never-analyzed table with RLS (reltuples = -1) and one without RLS (an offender).
create table public.hc_probe (id int primary key);
alter table public.hc_probe enable row level security;
insert into public.hc_probe values (1), (2), (3);
create table public.hc_probe_without_rls (id int primary key);

-- A secret that must never leak into the report.
select from vault.create_secret('hc-probe-secret-value-7f3a', 'hc_probe_secret', 'health check probe');

create temp table report on commit drop as select public.health_check() as h;
grant select on report to anon;

-- ---------------------------------------------------------------------------------------------
-- Shape
-- ---------------------------------------------------------------------------------------------
select is((select array(select jsonb_object_keys(h) order by 1) from report),
          array['app', 'database', 'rls'],
          'the report has exactly app, database and rls sections');
select is((select h #>> '{app,status}' from report), 'ok', 'app status is ok');
select is((select h #>> '{app,version}' from report), '99991231235959',
          'app version is the latest applied migration');
select ok((select (h #>> '{app,time}')::timestamptz is not null from report),
          'app time is a timestamp');
select is((select h #>> '{database,status}' from report), 'ok', 'database status is ok');
select is((select h #>> '{database,version}' from report), current_setting('server_version'),
          'database version is the server version');
select is((select jsonb_typeof(h #> '{database,latency_ms}') from report), 'number',
          'database latency_ms is a number');
select ok((select (h #>> '{database,latency_ms}')::numeric >= 0 from report),
          'database latency_ms is not negative');
select is((select jsonb_typeof(h #> '{database,tables}') from report), 'object',
          'database tables is an object');
-- Its rows are uncommitted, so the statistics collector has not counted them yet: the point is
-- that the fallback reports the collector's figure (never reltuples' -1, never a scan).
select is((select (h #>> '{database,tables,public.hc_probe}')::bigint from report),
          pg_catalog.pg_stat_get_live_tuples('public.hc_probe'::regclass),
          'a never-analyzed table reports the statistics collector''s live-row count');
select is((select jsonb_typeof(h #> '{rls,policy_count}') from report), 'number',
          'rls policy_count is a number');
select is((select (h #>> '{rls,policy_count}')::bigint from report),
          (select count(*) from pg_policies where schemaname in ('public', 'ops')),
          'rls policy_count counts the policies in public and ops');
select is((select jsonb_typeof(h #> '{rls,tables_without_rls}') from report), 'array',
          'rls tables_without_rls is an array');

-- ---------------------------------------------------------------------------------------------
-- RLS coverage is reported honestly
-- ---------------------------------------------------------------------------------------------
select ok((select h #> '{rls,tables_without_rls}' ? 'public.hc_probe_without_rls' from report),
          'tables_without_rls names a public table created without RLS');
select ok((select not (h #> '{rls,tables_without_rls}' ? 'public.hc_probe') from report),
          'tables_without_rls omits a table with RLS on');

-- ---------------------------------------------------------------------------------------------
-- Who may call it
-- ---------------------------------------------------------------------------------------------
select ok(has_function_privilege('anon', 'public.health_check()', 'EXECUTE'),
          'anon may execute health_check');
select ok(not has_function_privilege('public', 'public.health_check()', 'EXECUTE'),
          'PUBLIC holds no EXECUTE on health_check (grants are explicit)');

select tests.authenticate_as_anon();
select is((public.health_check()) #>> '{app,status}', 'ok', 'anon gets a report');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- No secrets
-- ---------------------------------------------------------------------------------------------
select ok((select strpos(h::text, 'hc-probe-secret-value-7f3a') = 0 from report),
          'the report does not contain a vault secret');
select ok((select strpos(lower(h::text), 'password') = 0 and strpos(lower(h::text), 'secret') = 0
           from report),
          'the report mentions no password or secret');
select ok((select strpos(h::text, 'postgres:') = 0 and strpos(h::text, 'postgresql://') = 0
           from report),
          'the report contains no connection string');
select ok((select strpos(h::text, 'service_role') = 0 and strpos(h::text, 'authenticator') = 0
           and strpos(h::text, '"' || session_user || '"') = 0 from report),
          'the report names no database role');

select * from finish();
rollback;
