-- Emergency lockdown of the anon role: the security-incident runbook's
-- `REVOKE ALL ON ALL TABLES / FUNCTIONS IN SCHEMA public FROM anon`, made reversible. `on`
-- revokes every privilege granted to anon itself in schema public (tables, views, sequences,
-- columns, routines, and default privileges for objects created later) except EXECUTE on
-- public.health_check(), and keeps the exact list it removed in ops.anon_lockdown_grants (an
-- audit copy goes to public.ai_action_ledger); `off` grants back exactly that list, nothing
-- more. The health check reports whether a lockdown is on. Runbook: docs/backup-and-lockdown.md.


-- =============================================================================================
-- What anon holds
-- =============================================================================================

-- anon's own grants in schema public as a sorted jsonb array of
--   {"kind": "table"|"sequence"|"column"|"routine"|"default", "object", "column"?,
--    "for_role"?, "privilege", "grantable", "grantor"}
-- ("table" covers views, materialized views and foreign tables; "default" is an
-- ALTER DEFAULT PRIVILEGES entry, `object` then names the object class: tables, sequences,
-- functions or types). `grantor` tells apart the same privilege given to anon by two roles: a
-- REVOKE by the owner removes only the owner's, and `off` must restore that one and no other.
-- Only grants whose grantee is anon itself: what anon reaches through
-- PUBLIC is a grant to every role, which a lockdown of one role must not take from the others
-- (ops.anon_still_reachable reports it). health_check() is left out on purpose: uptime
-- monitors and the health function must keep answering during an incident, and its report was
-- reviewed to reveal nothing (its own migration says what it contains).
create function ops.anon_public_grants()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(g.grant_entry order by g.grant_entry::text), '[]'::jsonb)
  from (
    select pg_catalog.jsonb_build_object(
             'kind', case when c.relkind = 'S' then 'sequence' else 'table' end,
             'object', pg_catalog.format('%I.%I', n.nspname, c.relname),
             'privilege', a.privilege_type,
             'grantable', a.is_grantable,
             'grantor', a.grantor::regrole::text) as grant_entry
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    cross join lateral pg_catalog.aclexplode(c.relacl) a
    where n.nspname = 'public'
      and a.grantee = 'anon'::regrole
    union all
    select pg_catalog.jsonb_build_object(
             'kind', 'column',
             'object', pg_catalog.format('%I.%I', n.nspname, c.relname),
             'column', att.attname::text,
             'privilege', a.privilege_type,
             'grantable', a.is_grantable,
             'grantor', a.grantor::regrole::text)
    from pg_catalog.pg_attribute att
    join pg_catalog.pg_class c on c.oid = att.attrelid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    cross join lateral pg_catalog.aclexplode(att.attacl) a
    where n.nspname = 'public'
      and att.attnum > 0
      and not att.attisdropped
      and a.grantee = 'anon'::regrole
    union all
    select pg_catalog.jsonb_build_object(
             'kind', 'routine',
             'object', p.oid::regprocedure::text,
             'privilege', a.privilege_type,
             'grantable', a.is_grantable,
             'grantor', a.grantor::regrole::text)
    from pg_catalog.pg_proc p
    cross join lateral pg_catalog.aclexplode(p.proacl) a
    where p.pronamespace = 'public'::regnamespace
      and a.grantee = 'anon'::regrole
      and p.oid::regprocedure::text <> 'public.health_check()'
    union all
    select pg_catalog.jsonb_build_object(
             'kind', 'default',
             'object', case d.defaclobjtype when 'r' then 'tables' when 'S' then 'sequences'
                                            when 'f' then 'functions' when 'T' then 'types' end,
             'for_role', d.defaclrole::regrole::text,
             'privilege', a.privilege_type,
             'grantable', a.is_grantable,
             'grantor', a.grantor::regrole::text)
    from pg_catalog.pg_default_acl d
    cross join lateral pg_catalog.aclexplode(d.defaclacl) a
    where d.defaclnamespace = 'public'::regnamespace
      and a.grantee = 'anon'::regrole
  ) g
$$;
revoke all on function ops.anon_public_grants() from public;

-- What anon can still use in schema public by any route (its own grants or PUBLIC's), besides
-- health_check(): "table:<name>:<privilege>" and "routine:<signature>" entries. A lockdown
-- reports it so the operator sees at once whether anon is really shut out. Routines that an
-- extension installed into public are left out, as in the security baseline test: they belong
-- to the extension, and PUBLIC's EXECUTE on them is the extension's default.
create function ops.anon_still_reachable()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(r.entry order by r.entry), '[]'::jsonb)
  from (
    select pg_catalog.format('table:%I.%I:%s', n.nspname, c.relname, p.privilege) as entry
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES',
                            'TRIGGER']) as p(privilege)
    where n.nspname = 'public'
      and c.relkind in ('r', 'p', 'v', 'm', 'f')
      and case when p.privilege in ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
               then pg_catalog.has_any_column_privilege('anon', c.oid, p.privilege)
               else pg_catalog.has_table_privilege('anon', c.oid, p.privilege) end
    union all
    select pg_catalog.format('sequence:%I.%I:%s', n.nspname, c.relname, p.privilege)
    from pg_catalog.pg_class c
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    cross join unnest(array['USAGE', 'SELECT', 'UPDATE']) as p(privilege)
    where n.nspname = 'public'
      and c.relkind = 'S'
      and pg_catalog.has_sequence_privilege('anon', c.oid, p.privilege)
    union all
    select 'routine:' || p.oid::regprocedure::text
    from pg_catalog.pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and p.oid::regprocedure::text <> 'public.health_check()'
      and pg_catalog.has_function_privilege('anon', p.oid, 'EXECUTE')
      and not exists (
        select 1 from pg_catalog.pg_depend d
        where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
  ) r
$$;
revoke all on function ops.anon_still_reachable() from public;

-- The GRANT (p_verb 'grant') or REVOKE (p_verb 'revoke') statement for one entry of
-- ops.anon_public_grants(), or null when its object no longer exists (dropped during the
-- lockdown). Names are resolved through the catalog and privileges checked against the list
-- Postgres knows, and an object outside schema public is refused (22023): a stored entry can
-- only ever become a well-formed statement about anon and schema public, whatever it says.
create function ops.anon_grant_statement(p_grant jsonb, p_verb text)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  kind constant text := p_grant ->> 'kind';
  privilege constant text := p_grant ->> 'privilege';
  grant_option constant text :=
    case when p_verb = 'grant' and (p_grant ->> 'grantable')::boolean
         then ' with grant option' else '' end;
  direction constant text := case when p_verb = 'grant' then 'to' else 'from' end;
  rel regclass;
  routine regprocedure;
begin
  -- GUARD: only the two verbs and the privilege words aclexplode reports.
  if p_verb is null or p_verb not in ('grant', 'revoke') then
    raise exception 'p_verb must be grant or revoke' using errcode = '22023';
  end if;
  if privilege is null or privilege not in ('SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE',
                                            'REFERENCES', 'TRIGGER', 'EXECUTE', 'USAGE',
                                            'MAINTAIN') then
    raise exception 'p_grant has an unknown privilege: %', privilege using errcode = '22023';
  end if;

  if kind in ('table', 'sequence', 'column') then
    rel := pg_catalog.to_regclass(p_grant ->> 'object');
    if rel is null then
      return null;
    end if;
    if not exists (select 1 from pg_catalog.pg_class c
                   where c.oid = rel and c.relnamespace = 'public'::regnamespace) then
      raise exception 'p_grant names an object outside schema public: %', rel
        using errcode = '22023';
    end if;
    if kind = 'column' then
      if not exists (select 1 from pg_catalog.pg_attribute att
                     where att.attrelid = rel and att.attname = (p_grant ->> 'column')::name
                       and att.attnum > 0 and not att.attisdropped) then
        return null;
      end if;
      return pg_catalog.format('%s %s (%I) on table %s %s anon%s', p_verb, privilege,
                               p_grant ->> 'column', rel, direction, grant_option);
    end if;
    return pg_catalog.format('%s %s on %s %s %s anon%s', p_verb, privilege,
                             case when kind = 'sequence' then 'sequence' else 'table' end,
                             rel, direction, grant_option);
  elsif kind = 'routine' then
    routine := pg_catalog.to_regprocedure(p_grant ->> 'object');
    if routine is null then
      return null;
    end if;
    if not exists (select 1 from pg_catalog.pg_proc p
                   where p.oid = routine and p.pronamespace = 'public'::regnamespace) then
      raise exception 'p_grant names an object outside schema public: %', routine
        using errcode = '22023';
    end if;
    return pg_catalog.format('%s %s on routine %s %s anon%s', p_verb, privilege, routine,
                             direction, grant_option);
  elsif kind = 'default' then
    if pg_catalog.to_regrole(p_grant ->> 'for_role') is null then
      return null;
    end if;
    if p_grant ->> 'object' is null
       or p_grant ->> 'object' not in ('tables', 'sequences', 'functions', 'types') then
      raise exception 'p_grant has an unknown object class: %', p_grant ->> 'object'
        using errcode = '22023';
    end if;
    return pg_catalog.format('alter default privileges for role %I in schema public %s %s on %s %s anon%s',
                             p_grant ->> 'for_role', p_verb, privilege, p_grant ->> 'object',
                             direction, grant_option);
  end if;
  raise exception 'p_grant has an unknown kind: %', kind using errcode = '22023';
end
$$;
revoke all on function ops.anon_grant_statement(jsonb, text) from public;


-- =============================================================================================
-- State: ops.anon_lockdown_grants
-- =============================================================================================

-- The lockdown in force: one row per `on` that opened or extended it, with the grants that run
-- revoked; `off` restores them and deletes the rows. This table, not the ledger, is what `off`
-- restores and what the status and the health check read, because the ledger can be written by
-- the API: public.record_ai_action is executable by service_role, so whoever holds a leaked
-- service key (the very incident a lockdown answers) could append a 'lockdown.on' row listing
-- grants of their choosing for `off` to hand anon, or a 'lockdown.off' row that hides a
-- lockdown in force. Only the owner (the operator running ops.lockdown_on / _off) reads or
-- writes here: RLS is on with no policy, and no API role, service_role included, holds any
-- privilege. Each row's ledger_id is its audit copy in public.ai_action_ledger.
create table ops.anon_lockdown_grants (
  ledger_id bigint primary key,
  started_at timestamptz not null,
  actor text not null,
  reason text not null,
  -- ops.anon_public_grants() entries, as that run removed them.
  revoked jsonb not null check (pg_catalog.jsonb_typeof(revoked) = 'array')
);
alter table ops.anon_lockdown_grants enable row level security;
revoke all on table ops.anon_lockdown_grants from public, anon, authenticated, service_role;
comment on table ops.anon_lockdown_grants is
  'The anon lockdown in force and the grants it revoked: what lockdown_off restores. '
  'Owner-only on purpose; the ledger keeps an audit copy.';

-- The lockdown in force, from ops.anon_lockdown_grants: {"active", "since", "actor", "reason",
-- "ledger_ids", "revoked"} where `revoked` is every grant its `on` runs removed.
create function ops.anon_lockdown()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'active', pg_catalog.count(*) > 0,
    'since', pg_catalog.min(g.started_at),
    'actor', (select f.actor from ops.anon_lockdown_grants f order by f.ledger_id limit 1),
    'reason', (select f.reason from ops.anon_lockdown_grants f order by f.ledger_id limit 1),
    'ledger_ids', coalesce(pg_catalog.jsonb_agg(g.ledger_id order by g.ledger_id), '[]'::jsonb),
    'revoked', coalesce((select pg_catalog.jsonb_agg(distinct e.grant_entry)
                         from ops.anon_lockdown_grants r
                         cross join lateral pg_catalog.jsonb_array_elements(r.revoked)
                           as e(grant_entry)), '[]'::jsonb))
  from ops.anon_lockdown_grants g
$$;
revoke all on function ops.anon_lockdown() from public;


-- =============================================================================================
-- ops.lockdown_on / ops.lockdown_off
-- =============================================================================================

-- What on and off do first: the reason (p_reason, else the session's app.reason), required
-- because a lockdown is an incident action and the ledger must say why; then a transaction lock,
-- so two operators cannot interleave revokes and restores. Returns the reason.
create function ops.lockdown_begin(p_reason text)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  why constant text := coalesce(nullif(pg_catalog.btrim(p_reason), ''),
                                nullif(pg_catalog.current_setting('app.reason', true), ''));
begin
  if why is null then
    raise exception 'p_reason is required' using errcode = '22023';
  end if;
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('ops.anon_lockdown'));
  return why;
end
$$;
revoke all on function ops.lockdown_begin(text) from public;

-- Revokes anon's grants in schema public (see ops.anon_public_grants) in one transaction,
-- keeps the exact list removed in ops.anon_lockdown_grants and appends a 'lockdown.on' ledger
-- row (after.revoked) as its audit copy. Idempotent: while a lockdown is on, another `on`
-- revokes only what anon has gained since (a later grant, a migration's default privileges)
-- and records that; with nothing new it changes nothing and writes no row. p_reason (or the
-- session's app.reason) is required. Returns
-- {"active": true, "already_on", "revoked", "still_granted", "still_reachable", "ledger_id"}:
-- still_granted are anon's own grants this role could not revoke (another grantor's, default
-- privileges of a role it is not a member of, or a grant option anon passed on to another role,
-- which only a REVOKE … CASCADE would take, and an emergency tool must not cascade into other
-- roles' grants unasked), still_reachable everything anon can still use, PUBLIC's grants
-- included. One grant that cannot be revoked never stops the others.
-- Operator-only (no API role may call it), and SECURITY INVOKER: whoever runs it must own the
-- objects, as whoever would type the runbook's REVOKE would.
create function ops.lockdown_on(p_reason text default null)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  why constant text := ops.lockdown_begin(p_reason);
  was_on boolean;
  before_grants jsonb;
  after_grants jsonb;
  removed jsonb;
  entry jsonb;
  statement text;
  ledger_row bigint;
begin
  was_on := (ops.anon_lockdown() ->> 'active')::boolean;
  before_grants := ops.anon_public_grants();
  for entry in select e.value from pg_catalog.jsonb_array_elements(before_grants) e loop
    statement := ops.anon_grant_statement(entry, 'revoke');
    begin
      execute statement;
    exception when insufficient_privilege or dependent_privilege_descriptors_still_exist then
      -- 42501, or 2BP01 (a grant option anon passed on): left in place and reported as
      -- still_granted; the rest of the lockdown goes ahead.
      null;
    end;
  end loop;
  after_grants := ops.anon_public_grants();
  select coalesce(pg_catalog.jsonb_agg(b.value order by b.value::text), '[]'::jsonb)
    into removed
  from pg_catalog.jsonb_array_elements(before_grants) b
  where not after_grants @> pg_catalog.jsonb_build_array(b.value);

  if was_on and removed = '[]'::jsonb then
    return pg_catalog.jsonb_build_object(
      'active', true, 'already_on', true, 'revoked', removed, 'still_granted', after_grants,
      'still_reachable', ops.anon_still_reachable(), 'ledger_id', null);
  end if;

  ledger_row := public.record_ai_action(
    p_action => 'lockdown.on',
    p_target => 'anon',
    p_before => pg_catalog.jsonb_build_object('grants', before_grants),
    p_after => pg_catalog.jsonb_build_object('grants', after_grants, 'revoked', removed),
    p_reason => why);
  insert into ops.anon_lockdown_grants (ledger_id, started_at, actor, reason, revoked)
  select l.id, l."timestamp", l.actor, why, removed
  from public.ai_action_ledger l
  where l.id = ledger_row;
  return pg_catalog.jsonb_build_object(
    'active', true, 'already_on', was_on, 'revoked', removed, 'still_granted', after_grants,
    'still_reachable', ops.anon_still_reachable(), 'ledger_id', ledger_row);
end
$$;
revoke all on function ops.lockdown_on(text) from public;

-- Grants back every grant the lockdown in force revoked (ops.anon_lockdown_grants, never the
-- ledger: see that table), and nothing else: a grant someone added during the lockdown stays as
-- it is, and an object dropped meanwhile is skipped and named. Then the lockdown's rows are
-- deleted, and one 'lockdown.off' ledger row with after.restored and after.skipped is the
-- audit copy. Refused (55000) when no lockdown is on: there is nothing to restore, and an
-- operator who thinks otherwise should hear it. Returns {"active": false, "restored",
-- "skipped", "ledger_id"}.
create function ops.lockdown_off(p_reason text default null)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  why constant text := ops.lockdown_begin(p_reason);
  lockdown jsonb;
  before_grants jsonb;
  restored jsonb := '[]'::jsonb;
  skipped jsonb := '[]'::jsonb;
  entry jsonb;
  statement text;
  ledger_row bigint;
begin
  lockdown := ops.anon_lockdown();
  if not (lockdown ->> 'active')::boolean then
    raise exception 'no lockdown is on' using errcode = '55000';
  end if;

  before_grants := ops.anon_public_grants();
  for entry in
    select e.value from pg_catalog.jsonb_array_elements(lockdown -> 'revoked') e
    order by e.value::text
  loop
    statement := ops.anon_grant_statement(entry, 'grant');
    if statement is null then
      skipped := skipped || pg_catalog.jsonb_build_array(entry);
    else
      execute statement;
      restored := restored || pg_catalog.jsonb_build_array(entry);
    end if;
  end loop;

  delete from ops.anon_lockdown_grants g
  where g.ledger_id in (select i.value::bigint
                        from pg_catalog.jsonb_array_elements_text(lockdown -> 'ledger_ids') i);

  ledger_row := public.record_ai_action(
    p_action => 'lockdown.off',
    p_target => 'anon',
    p_before => pg_catalog.jsonb_build_object('grants', before_grants),
    p_after => pg_catalog.jsonb_build_object('grants', ops.anon_public_grants(),
                                             'restored', restored, 'skipped', skipped),
    p_reason => why,
    p_context => pg_catalog.jsonb_build_object('lockdown_ids', lockdown -> 'ledger_ids'));
  return pg_catalog.jsonb_build_object(
    'active', false, 'restored', restored, 'skipped', skipped, 'ledger_id', ledger_row);
end
$$;
revoke all on function ops.lockdown_off(text) from public;

-- The lockdown in force with what anon can still reach, for `deno task ops lockdown status`
-- and the SQL editor.
create function ops.lockdown_status()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select ops.anon_lockdown()
         || pg_catalog.jsonb_build_object('still_reachable', ops.anon_still_reachable())
$$;
revoke all on function ops.lockdown_status() from public;


-- =============================================================================================
-- public.health_check reports the lockdown
-- =============================================================================================

-- The report itself moves to ops.health_report, unchanged; public.health_check becomes a
-- wrapper that adds rls.anon_lockdown = {"active", "since"} (no actor or reason: anon reads
-- this, and an incident's reason is not for the public). It sits under `rls` because the health
-- function passes that section through as it is, so GET /functions/v1/health reports it too.
alter function public.health_check() rename to health_report;
alter function public.health_report() set schema ops;
revoke all on function ops.health_report() from public, anon, authenticated, service_role;
comment on function ops.health_report() is
  'The app, database and RLS report behind public.health_check() (which adds the lockdown).';

-- SECURITY DEFINER for the same reasons as the report it wraps (anon calls it; it reads the
-- migration ledger and ops.anon_lockdown_grants, which anon cannot), reviewed the same way: it
-- adds a boolean and a timestamp. Anon keeps EXECUTE through a lockdown (ops.anon_public_grants
-- leaves it out), so monitors keep answering.
create function public.health_check()
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select pg_catalog.jsonb_set(
    h.report, '{rls,anon_lockdown}',
    pg_catalog.jsonb_build_object('active', l.state -> 'active', 'since', l.state -> 'since'))
  from (select ops.health_report() as report) h,
       (select ops.anon_lockdown() as state) l
$$;
revoke all on function public.health_check() from public;
grant execute on function public.health_check() to anon, authenticated, service_role;
