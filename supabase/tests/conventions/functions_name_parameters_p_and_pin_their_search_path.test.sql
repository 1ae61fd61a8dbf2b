-- The SQL conventions in docs/development.md that a catalog query can check, so a new function
-- that breaks them fails here rather than in review: every parameter is named p_<name> (a
-- parameter never reads like a column or a local), and every function pins search_path = ''
-- (so a caller's search_path cannot redirect a name inside it).
begin;
select plan(2);

select is_empty($$
  select pg_catalog.format('%s: %s', p.oid::regprocedure, a.name)
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
   cross join lateral rows from (pg_catalog.unnest(p.proargnames),
                                 pg_catalog.unnest(p.proargmodes)) as a(name, mode)
   where n.nspname in ('public', 'ops', 'tests')
     and coalesce(a.mode, 'i') in ('i', 'b', 'v') -- inputs; OUT and TABLE columns are not
     and a.name !~ '^p_'
     and not exists (select 1 from pg_catalog.pg_depend d
                      where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid
                        and d.deptype = 'e')
$$, 'every parameter of a public, ops or tests function is named p_<name>');

-- ops.run_queue_maintenance commits between batches, and Postgres forbids COMMIT in a procedure
-- with a SET clause; it qualifies every name instead.
select is_empty($$
  select p.oid::regprocedure::text
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
   where n.nspname in ('public', 'ops')
     and not coalesce(p.proconfig, '{}') @> array['search_path=""']
     and p.oid <> 'ops.run_queue_maintenance(interval, integer, integer)'::regprocedure
     and not exists (select 1 from pg_catalog.pg_depend d
                      where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid
                        and d.deptype = 'e')
$$, 'every public and ops function pins search_path = ''''');

select * from finish();
rollback;
