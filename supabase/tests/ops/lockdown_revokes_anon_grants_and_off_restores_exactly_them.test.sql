-- ops.lockdown_on / ops.lockdown_off: the security-incident REVOKE made reversible. `on`
-- removes every grant anon holds in public (table, column, sequence, routine, default
-- privileges) but health_check, ledgers the exact list, and `off` restores exactly that list.
begin;
select plan(27);

-- ---------------------------------------------------------------------------------------------
-- Fixture: one grant to anon of every kind a lockdown handles
-- ---------------------------------------------------------------------------------------------
create table public.lk_probe (id int primary key, note text);
alter table public.lk_probe enable row level security;
create policy lk_probe_anon_read on public.lk_probe for select to anon using (true);
insert into public.lk_probe values (1, 'visible before the lockdown');
grant select on public.lk_probe to anon;

create table public.lk_columns (id int primary key, note text);
alter table public.lk_columns enable row level security;
grant insert (note) on public.lk_columns to anon;

create sequence public.lk_seq;
grant usage on sequence public.lk_seq to anon;

create function public.lk_fn() returns int language sql as 'select 1';
revoke all on function public.lk_fn() from public;
grant execute on function public.lk_fn() to anon with grant option;

alter default privileges for role postgres in schema public grant select on tables to anon;

-- Every privilege (and grant option) anon holds on every relation, column and routine in
-- public, plus its default privileges there: what on-then-off must leave identical.
create function pg_temp.anon_privileges() returns setof text language sql as $$
  select format('rel:%s:%s', c.oid::regclass, p.privilege)
  from pg_class c
  cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                          'TRIGGER', 'SELECT WITH GRANT OPTION', 'INSERT WITH GRANT OPTION',
                          'UPDATE WITH GRANT OPTION', 'DELETE WITH GRANT OPTION']) p(privilege)
  where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
    and has_table_privilege('anon', c.oid, p.privilege)
  union all
  select format('seq:%s:%s', c.oid::regclass, p.privilege)
  from pg_class c cross join unnest(array['USAGE', 'SELECT', 'UPDATE']) p(privilege)
  where c.relnamespace = 'public'::regnamespace and c.relkind = 'S'
    and has_sequence_privilege('anon', c.oid, p.privilege)
  union all
  select format('col:%s.%s:%s', c.oid::regclass, a.attname, p.privilege)
  from pg_class c
  join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
  cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'REFERENCES']) p(privilege)
  where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
    and has_column_privilege('anon', c.oid, a.attnum, p.privilege)
  union all
  select format('fn:%s:%s', p.oid::regprocedure, x.privilege)
  from pg_proc p cross join unnest(array['EXECUTE', 'EXECUTE WITH GRANT OPTION']) x(privilege)
  where p.pronamespace = 'public'::regnamespace
    and has_function_privilege('anon', p.oid, x.privilege)
  union all
  select format('default:%s:%s:%s:%s', d.defaclrole::regrole, d.defaclobjtype, a.privilege_type,
                a.is_grantable)
  from pg_default_acl d cross join lateral aclexplode(d.defaclacl) a
  where d.defaclnamespace = 'public'::regnamespace and a.grantee = 'anon'::regrole
$$;

create temp table privileges_before on commit drop as
  select pg_temp.anon_privileges() as privilege;

-- ---------------------------------------------------------------------------------------------
-- on
-- ---------------------------------------------------------------------------------------------
create temp table lockdown on commit drop as
  select ops.lockdown_on(p_reason => 'incident drill') as result;

select is(
  (select array(select jsonb_array_elements(result -> 'revoked') ->> 'kind' order by 1)
     from lockdown),
  array['column', 'default', 'routine', 'sequence', 'table'],
  'on revokes one grant of each kind the fixture made'
);
select is((select result -> 'still_granted' from lockdown), '[]'::jsonb,
          'on leaves anon no grant of its own in public');
select is((select result -> 'still_reachable' from lockdown), '[]'::jsonb,
          'on leaves anon nothing it can use in public but health_check');
select ok(has_function_privilege('anon', 'public.health_check()', 'EXECUTE'),
          'anon keeps EXECUTE on health_check during the lockdown');

select is(
  (select row(l.actor, l.reason, l.after -> 'revoked')::text
     from public.ai_action_ledger l where l.action = 'lockdown.on' order by l.id desc limit 1),
  (select row(session_user::text, 'incident drill', result -> 'revoked')::text from lockdown),
  'the ledger row records who, why and the exact grants removed'
);

select tests.authenticate_as_anon();
select throws_ok($$ select * from public.lk_probe $$, '42501', null,
                 'anon cannot read a table during the lockdown');
select throws_ok($$ select public.lk_fn() $$, '42501', null,
                 'anon cannot execute a routine during the lockdown');
select throws_ok($$ select nextval('public.lk_seq') $$, '42501', null,
                 'anon cannot use a sequence during the lockdown');
select is(public.health_check() #> '{rls,anon_lockdown,active}', 'true'::jsonb,
          'the health check answers anon and reports the lockdown');
select tests.clear_authentication();

create table public.lk_created_during (id int primary key);
select ok(not has_table_privilege('anon', 'public.lk_created_during', 'SELECT'),
          'a table created during the lockdown does not get the revoked default grant');
drop table public.lk_created_during;

-- Idempotent: a second on with nothing new changes nothing and writes no row.
select is(
  (select (r ->> 'already_on')::boolean and r -> 'ledger_id' = 'null'::jsonb
          and r -> 'revoked' = '[]'::jsonb
     from ops.lockdown_on(p_reason => 'again') r),
  true,
  'on while on with nothing new is a no-op'
);
select is((select count(*)::int from public.ai_action_ledger where action = 'lockdown.on'
            and reason = 'again'), 0, 'and writes no ledger row');

select is((select (ops.lockdown_status() ->> 'active')::boolean), true,
          'lockdown_status says the lockdown is on');

-- ---------------------------------------------------------------------------------------------
-- off
-- ---------------------------------------------------------------------------------------------
select is(
  (select jsonb_array_length(r -> 'restored') from ops.lockdown_off(p_reason => 'all clear') r),
  5, 'off restores the five revoked grants'
);
select is(
  array(select pg_temp.anon_privileges() order by 1),
  array(select privilege from privileges_before order by 1),
  'after on and off anon holds exactly the privileges it held before'
);
select ok((select count(*) > 0 from privileges_before),
          'and the comparison covered grants that existed');
select is((public.health_check() #> '{rls,anon_lockdown,active}'), 'false'::jsonb,
          'the health check reports the lockdown over');
select throws_ok($$ select ops.lockdown_off(p_reason => 'twice') $$, '55000',
                 'no lockdown is on', 'off without a lockdown is refused');

-- ---------------------------------------------------------------------------------------------
-- A grant anon gains during a lockdown; an object dropped during one
-- ---------------------------------------------------------------------------------------------
select ops.lockdown_on(p_reason => 'second incident');
grant select on public.lk_columns to anon;
grant update on public.lk_probe to anon;
select is(
  (select r -> 'revoked' from ops.lockdown_on(p_reason => 'catch up') r),
  '[{"kind": "table", "object": "public.lk_columns", "privilege": "SELECT", "grantable": false},
    {"kind": "table", "object": "public.lk_probe", "privilege": "UPDATE", "grantable": false}]'::jsonb,
  'on while on revokes only what anon gained since'
);
drop function public.lk_fn();
grant delete on public.lk_probe to anon;
create temp table lockdown_off on commit drop as
  select ops.lockdown_off(p_reason => 'recovered') as result;
select is(
  (select result -> 'skipped' from lockdown_off),
  '[{"kind": "routine", "object": "public.lk_fn()", "privilege": "EXECUTE", "grantable": true}]'::jsonb,
  'off skips a grant whose object was dropped and names it'
);
select ok(has_table_privilege('anon', 'public.lk_columns', 'SELECT')
            and has_table_privilege('anon', 'public.lk_probe', 'UPDATE'),
          'off restores what every on of the lockdown revoked');
select ok(has_table_privilege('anon', 'public.lk_probe', 'DELETE'),
          'a grant made during the lockdown and never revoked is left as it is');
select is(
  (select l.context -> 'lockdown_ids' from public.ai_action_ledger l
    where l.action = 'lockdown.off' order by l.id desc limit 1),
  (select jsonb_agg(l.id order by l.id) from public.ai_action_ledger l
    where l.action = 'lockdown.on' and l.reason in ('second incident', 'catch up')),
  'the off row names the on rows it undid'
);

-- ---------------------------------------------------------------------------------------------
-- Guards and privileges
-- ---------------------------------------------------------------------------------------------
select throws_ok($$ select ops.lockdown_on(p_reason => ' ') $$, '22023', 'p_reason is required',
                 'on needs a reason');
select is((select (ops.lockdown_status() ->> 'active')::boolean), false,
          'a refused on leaves no lockdown');
select ok(
  not has_function_privilege('service_role', 'ops.lockdown_on(text)', 'EXECUTE')
    and not has_function_privilege('service_role', 'ops.lockdown_off(text)', 'EXECUTE')
    and not has_function_privilege('anon', 'ops.lockdown_on(text)', 'EXECUTE')
    and not has_function_privilege('authenticated', 'ops.lockdown_off(text)', 'EXECUTE'),
  'no API role may turn a lockdown on or off'
);
select ok(not has_function_privilege('anon', 'ops.health_report()', 'EXECUTE'),
          'anon reaches the health report only through health_check');

select * from finish();
rollback;
