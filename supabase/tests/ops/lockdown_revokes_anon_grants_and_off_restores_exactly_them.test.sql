-- ops.lockdown_on / ops.lockdown_off: the security-incident REVOKE made reversible. `on`
-- removes every grant anon holds in public (table, column, sequence, routine, default
-- privileges) but health_check, keeps the exact list (with each grant's grantor) where only the
-- owner can write, and `off` restores exactly that list; rows forged into the ledger, which
-- service_role can write, fool neither.
begin;
select plan(43);

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

-- Created before the default privileges below, so anon holds nothing on it: what forged
-- ledger rows ask `off` to grant.
create table public.lk_secret (id int primary key);
alter table public.lk_secret enable row level security;

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
  '[{"kind": "table", "object": "public.lk_columns", "privilege": "SELECT", "grantable": false,
     "grantor": "postgres"},
    {"kind": "table", "object": "public.lk_probe", "privilege": "UPDATE", "grantable": false,
     "grantor": "postgres"}]'::jsonb,
  'on while on revokes only what anon gained since'
);
drop function public.lk_fn();
grant delete on public.lk_probe to anon;
create temp table lockdown_off on commit drop as
  select ops.lockdown_off(p_reason => 'recovered') as result;
select is(
  (select result -> 'skipped' from lockdown_off),
  '[{"kind": "routine", "object": "public.lk_fn()", "privilege": "EXECUTE", "grantable": true,
     "grantor": "postgres"}]'::jsonb,
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
select ok(
  not has_table_privilege('service_role', 'ops.anon_lockdown_grants',
                          'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
    and not has_table_privilege('authenticated', 'ops.anon_lockdown_grants',
                                'SELECT, INSERT, UPDATE, DELETE, TRUNCATE')
    and not has_table_privilege('anon', 'ops.anon_lockdown_grants',
                                'SELECT, INSERT, UPDATE, DELETE, TRUNCATE'),
  'no API role may read or write the list off restores'
);
select throws_ok(
  $$ select ops.anon_grant_statement('{"kind": "table", "object": "ops.anon_lockdown_grants",
                                       "privilege": "SELECT", "grantable": false}', 'grant') $$,
  '22023', 'p_grant names an object outside schema public: ops.anon_lockdown_grants',
  'the statement builder refuses a table outside schema public'
);
select throws_ok(
  $$ select ops.anon_grant_statement('{"kind": "routine", "object": "ops.lockdown_off(text)",
                                       "privilege": "EXECUTE", "grantable": false}', 'grant') $$,
  '22023', 'p_grant names an object outside schema public: ops.lockdown_off(text)',
  'the statement builder refuses a routine outside schema public'
);

-- ---------------------------------------------------------------------------------------------
-- Forged ledger rows: service_role may call record_ai_action, so a leaked service key can write
-- 'lockdown.on' / 'lockdown.off' rows. They neither start nor end a lockdown, nor choose what
-- off grants.
-- ---------------------------------------------------------------------------------------------
-- What a leaked service key can write: a p_action row for target anon whose after.revoked
-- names a grant anon never held. Runs as whoever calls it (SECURITY INVOKER, the default).
create function pg_temp.forge(p_action text) returns bigint language sql as $$
  select public.record_ai_action(
    p_action => p_action, p_target => 'anon', p_reason => 'forged',
    p_after => '{"revoked": [{"kind": "table", "object": "public.lk_secret",
                 "privilege": "SELECT", "grantable": true, "grantor": "postgres"}]}')
$$;

select tests.authenticate_as_service_role();
select lives_ok($$ select pg_temp.forge('lockdown.on') $$,
                'service_role can write a lockdown.on row into the ledger');
select tests.clear_authentication();
select is((select (ops.lockdown_status() ->> 'active')::boolean), false,
          'a forged lockdown.on row does not make a lockdown');
select throws_ok($$ select ops.lockdown_off(p_reason => 'forged off') $$, '55000',
                 'no lockdown is on', 'and off has nothing to restore from it');

create temp table real_on on commit drop as
  select ops.lockdown_on(p_reason => 'real incident') as result;
select tests.authenticate_as_service_role();
select lives_ok($$ select pg_temp.forge('lockdown.off'), pg_temp.forge('lockdown.on') $$,
                'service_role can write a lockdown.off row, then another lockdown.on');
select tests.clear_authentication();
select is(
  (select row((s ->> 'active')::boolean, s -> 'ledger_ids',
              (s -> 'revoked') @> (r.result -> 'revoked')
                and (r.result -> 'revoked') @> (s -> 'revoked'))::text
     from ops.lockdown_status() s, real_on r),
  (select row(true, jsonb_build_array(r.result -> 'ledger_id'), true)::text from real_on r),
  'a forged lockdown.off row does not end the lockdown, nor a forged on row add to it'
);
select is(public.health_check() #> '{rls,anon_lockdown,active}', 'true'::jsonb,
          'the health check still reports the real lockdown');
create temp table real_off on commit drop as
  select ops.lockdown_off(p_reason => 'real all clear') as result;
select ok(not has_table_privilege('anon', 'public.lk_secret', 'SELECT'),
          'off does not grant what a forged row lists');
select is(
  (select jsonb_array_length(o.result -> 'restored') from real_off o),
  (select jsonb_array_length(r.result -> 'revoked') from real_on r),
  'off restores what the real on revoked, and only that'
);

-- ---------------------------------------------------------------------------------------------
-- Two grantors of one privilege; a grant option anon passed on
-- ---------------------------------------------------------------------------------------------
create role lk_test_granter nologin;
grant usage on schema public to lk_test_granter;
create table public.lk_two (id int primary key);
create table public.lk_dep (id int primary key);
alter table public.lk_two enable row level security;
alter table public.lk_dep enable row level security;
revoke all on public.lk_two, public.lk_dep from anon;
grant select on public.lk_two to lk_test_granter with grant option;
set local role lk_test_granter;
grant select on public.lk_two to anon;
reset role;
grant select on public.lk_two to anon;
grant select on public.lk_dep to anon with grant option;
set local role anon;
grant select on public.lk_dep to authenticated;
reset role;

create temp table grantor_on on commit drop as
  select ops.lockdown_on(p_reason => 'grantors') as result;
select ok(
  (select result -> 'revoked' from grantor_on)
    @> '[{"kind": "table", "object": "public.lk_two", "privilege": "SELECT",
          "grantable": false, "grantor": "postgres"}]',
  'on revokes and records the owner''s grant though another grantor gave anon the same'
);
select ok(
  (select result -> 'still_granted' from grantor_on)
    @> '[{"kind": "table", "object": "public.lk_two", "privilege": "SELECT",
          "grantable": false, "grantor": "lk_test_granter"}]',
  'the other grantor''s grant is reported as still granted'
);
select ok(
  (select result -> 'still_granted' from grantor_on)
    @> '[{"kind": "table", "object": "public.lk_dep", "privilege": "SELECT",
          "grantable": true, "grantor": "postgres"}]'
    and has_table_privilege('authenticated', 'public.lk_dep', 'SELECT'),
  'a grant option anon passed on (dependent privileges) is left and reported as still granted'
);
select ok(not has_table_privilege('anon', 'public.lk_probe', 'SELECT'),
          'and the rest of the lockdown went ahead');
select ops.lockdown_off(p_reason => 'grantors restored');
select is(
  array(select a.grantor::regrole::text
          from pg_class c cross join lateral aclexplode(c.relacl) a
         where c.oid = 'public.lk_two'::regclass and a.grantee = 'anon'::regrole
         order by 1),
  array['lk_test_granter', 'postgres'],
  'off restores the owner''s grant beside the other grantor''s'
);

select * from finish();
rollback;
