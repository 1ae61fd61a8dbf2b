-- pg_stat_statements as on Supabase: installed in `extensions`, preloaded so its view can be
-- read (what `supabase inspect db outliers` / `calls` query), recording each top-level
-- statement, and out of reach of the API roles' reset.
begin;
select plan(5);

-- A top-level statement the view must record. Constants are normalized to $n, so the alias is
-- what identifies it; the check further down carries the alias only inside a literal.
select pass('a top-level statement runs') as pgss_probe_7f3a;

select has_extension('extensions', 'pg_stat_statements',
                     'pg_stat_statements is installed in schema extensions');

-- Without the library in shared_preload_libraries the extension installs but its view raises.
select lives_ok('select count(*) from extensions.pg_stat_statements',
                'the view can be read: the library is preloaded');

select ok(exists(select 1 from extensions.pg_stat_statements s
                 where s.query like '%pgss_probe_7f3a%' and s.calls >= 1),
          'the earlier top-level statement is recorded with its calls');

select ok(not pg_catalog.has_function_privilege(
            'anon', 'extensions.pg_stat_statements_reset(oid, oid, bigint)', 'execute')
          and not pg_catalog.has_function_privilege(
            'authenticated', 'extensions.pg_stat_statements_reset(oid, oid, bigint)', 'execute'),
          'anon and authenticated cannot wipe the statistics');

select * from finish();
rollback;
