-- Platform extensions, the internal `ops` schema, and default privileges that make every grant
-- explicit. The first migration: everything later builds on it. Applies unchanged on Supabase
-- and on the local stand-in (local/bootstrap.sql provides the Supabase platform surface there).


-- =============================================================================================
-- pg_cron — schedules the worker Edge Functions (pg_cron -> pg_net -> /functions/v1/<name>)
-- =============================================================================================

-- Installed into pg_catalog as Supabase's docs prescribe; the extension creates schema `cron`.
create extension if not exists pg_cron with schema pg_catalog;

-- Supabase's documented grants, so postgres can read job runs and manage jobs in migrations.
grant usage on schema cron to postgres;
grant all privileges on all tables in schema cron to postgres;


-- =============================================================================================
-- pg_net — HTTP from SQL (cron jobs call the functions with it)
-- =============================================================================================

-- On Supabase the extension is available and installed here. Locally there is no pg_net
-- package: the `net` schema with the same tables and http_* functions comes from
-- local/bootstrap.sql and is drained by the local gateway. If a machine ever did have the
-- package, we still leave the stand-in alone rather than clash with it.
do $$
begin
  if exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_net')
     and not exists (
       select 1
       from pg_catalog.pg_namespace n
       where n.nspname = 'net'
         and pg_catalog.obj_description(n.oid, 'pg_namespace') like 'edge-kernel local stand-in%'
     )
  then
    create extension if not exists pg_net with schema extensions;
  end if;
end
$$;


-- =============================================================================================
-- ops — internal machinery no client touches
-- =============================================================================================

-- Queue internals, schedules and bookkeeping that only server-side code (service_role, cron,
-- definer functions) uses. Not in the API's exposed schemas; the client roles cannot even
-- resolve names in it. Objects inside still grant service_role explicitly, one by one.
create schema if not exists ops;
revoke all on schema ops from public, anon, authenticated;
grant usage on schema ops to service_role;


-- =============================================================================================
-- Default privileges: nothing is granted implicitly (DESIGN §5)
-- =============================================================================================

-- Older Supabase projects grant every new table, sequence and function in `public` to the API
-- roles by default; new projects no longer do. Revoke those defaults (for objects the migration
-- role, postgres, creates) so both behave the same and every grant is written in the migration
-- that creates the object. service_role loses its table/sequence defaults too: it gets exactly
-- what each migration grants, which keeps the grant list reviewable.
alter default privileges in schema public revoke all on tables from anon, authenticated, service_role;
alter default privileges in schema public revoke all on sequences from anon, authenticated, service_role;

-- Functions: no implicit EXECUTE for the client roles. Note that PUBLIC's EXECUTE on new
-- functions is Postgres's built-in global default, which a per-schema clause cannot remove
-- (per-schema defaults only add to the global ones); so each function's migration also runs
-- `revoke all on function … from public` right after creating it. We deliberately do not revoke
-- it globally: that would also strip EXECUTE from extensions created later (e.g. pgTAP).
-- service_role too gets EXECUTE only where a migration grants it.
alter default privileges in schema public revoke execute on functions from anon, authenticated, service_role;
