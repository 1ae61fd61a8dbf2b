-- public.health_check(): the one SQL call behind the public `health` Edge Function, the ops CLI
-- and uptime monitors. Reports app, database and RLS status; reveals nothing secret.


-- =============================================================================================
-- public.health_check
-- =============================================================================================

-- Returns
--   {"app":      {"status": "ok", "version": <latest migration version | 'unknown'>, "time": …},
--    "database": {"status": "ok", "version": <server_version>, "latency_ms": <ms in here>,
--                 "tables": {"public.<name>": <row estimate>, …}},
--    "rls":      {"policy_count": <policies in public+ops>,
--                 "tables_without_rls": ["<schema>.<name>", …]}}
--
-- SECURITY DEFINER (owner postgres) because anon must be able to call it and it reads what anon
-- cannot: supabase_migrations.schema_migrations (the version) and, for never-analyzed small
-- tables, an exact count that RLS would otherwise hide. Reviewed: the output is limited to
-- migration versions, the server version, table names, row estimates and policy counts — no
-- settings, connection strings, role names or row contents.
create or replace function public.health_check()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  started_at constant timestamptz := pg_catalog.clock_timestamp();
  app_version text;
  tables jsonb := '{}'::jsonb;
  rel record;
  leaf record;
  rows_estimate bigint;
  leaf_rows bigint;
  policy_count bigint;
  tables_without_rls jsonb;
begin
  -- GUARD: the ledger exists wherever migrations are applied by the CLI or the local runner,
  -- but a hand-built database may lack it; report 'unknown' rather than fail the probe.
  if pg_catalog.to_regclass('supabase_migrations.schema_migrations') is not null then
    execute 'select max(version) from supabase_migrations.schema_migrations' into app_version;
  end if;

  -- Row estimates per public table; a partitioned table sums its leaf partitions.
  for rel in
    select c.oid, c.relname, c.relkind
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public'
      and c.relkind in ('r', 'p')
      and not c.relispartition
    order by c.relname
  loop
    rows_estimate := 0;
    for leaf in
      select rel.oid as oid, c.reltuples
      from pg_catalog.pg_class c
      where c.oid = rel.oid and rel.relkind = 'r'
      union all
      select t.relid::oid, lc.reltuples
      from pg_catalog.pg_partition_tree(rel.oid) t
      join pg_catalog.pg_class lc on lc.oid = t.relid
      where rel.relkind = 'p' and t.isleaf
    loop
      -- A never-analyzed table (reltuples = -1, e.g. right after a bulk load) falls back to
      -- the statistics collector's live-tuple counter: also free, and never a scan.
      if leaf.reltuples >= 0 then
        leaf_rows := leaf.reltuples::bigint;
      else
        leaf_rows := pg_catalog.pg_stat_get_live_tuples(leaf.oid);
      end if;
      rows_estimate := rows_estimate + leaf_rows;
    end loop;
    tables := tables || pg_catalog.jsonb_build_object('public.' || rel.relname, rows_estimate);
  end loop;

  select pg_catalog.count(*) into policy_count
  from pg_catalog.pg_policies p
  where p.schemaname in ('public', 'ops');

  select coalesce(pg_catalog.jsonb_agg(n.nspname || '.' || c.relname order by n.nspname, c.relname),
                  '[]'::jsonb)
    into tables_without_rls
  from pg_catalog.pg_class c
  join pg_catalog.pg_namespace n on n.oid = c.relnamespace
  where n.nspname in ('public', 'ops')
    and c.relkind in ('r', 'p')
    and not c.relrowsecurity;

  return pg_catalog.jsonb_build_object(
    'app', pg_catalog.jsonb_build_object(
      'status', 'ok',
      'version', coalesce(app_version, 'unknown'),
      'time', pg_catalog.now()),
    'database', pg_catalog.jsonb_build_object(
      'status', 'ok',
      'version', pg_catalog.current_setting('server_version'),
      'latency_ms', pg_catalog.round(
        (extract(epoch from pg_catalog.clock_timestamp() - started_at) * 1000)::numeric, 3),
      'tables', tables),
    'rls', pg_catalog.jsonb_build_object(
      'policy_count', policy_count,
      'tables_without_rls', tables_without_rls));
end
$$;
revoke all on function public.health_check() from public;
grant execute on function public.health_check() to anon, authenticated, service_role;
