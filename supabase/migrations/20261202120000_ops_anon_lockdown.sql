-- Emergency lockdown of the anon role: the security-incident runbook's
-- `REVOKE ALL ON ALL TABLES / FUNCTIONS IN SCHEMA public FROM anon`, made reversible. `on`
-- revokes every privilege granted to anon itself in schema public (tables, views, sequences,
-- columns, routines, and default privileges for objects created later) except EXECUTE on
-- public.health_check(), and records the exact list it removed in public.ai_action_ledger;
-- `off` grants back exactly that list, nothing more. The health check reports whether a
-- lockdown is on. Runbook: docs/backup-and-lockdown.md.


-- =============================================================================================
-- What anon holds
-- =============================================================================================

-- anon's own grants in schema public as a sorted jsonb array of
--   {"kind": "table"|"sequence"|"column"|"routine"|"default", "object", "column"?,
--    "for_role"?, "privilege", "grantable"}
-- ("table" covers views, materialized views and foreign tables; "default" is an
-- ALTER DEFAULT PRIVILEGES entry, `object` then names the object class: tables, sequences,
-- functions or types). Only grants whose grantee is anon itself: what anon reaches through
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
             'grantable', a.is_grantable) as grant_entry
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
             'grantable', a.is_grantable)
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
             'grantable', a.is_grantable)
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
             'grantable', a.is_grantable)
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
-- Postgres knows, so a ledger entry can only ever become a well-formed statement about anon.
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
-- State: read from the ledger
-- =============================================================================================

-- The lockdown in force, from the ledger: the 'lockdown.on' rows (target 'anon') after the
-- last 'lockdown.off'. {"active", "since", "actor", "reason", "ledger_ids", "revoked"} where
-- `revoked` is every grant those rows removed. The ledger is the only record, on purpose: it is
-- append-only, so what `off` restores is exactly what `on` wrote down, and an operator reads
-- the same rows in the SQL editor.
create function ops.anon_lockdown()
returns jsonb
language sql
stable
set search_path = ''
as $$
  with last_off as (
    select coalesce(pg_catalog.max(l.id), 0) as id
    from public.ai_action_ledger l
    where l.target = 'anon' and l.action = 'lockdown.off'
  ), ons as (
    select l.id, l."timestamp", l.actor, l.reason, l.after
    from public.ai_action_ledger l, last_off o
    where l.target = 'anon' and l.action = 'lockdown.on' and l.id > o.id
  )
  select pg_catalog.jsonb_build_object(
    'active', pg_catalog.count(*) > 0,
    'since', pg_catalog.min(ons."timestamp"),
    'actor', (select f.actor from ons f order by f.id limit 1),
    'reason', (select f.reason from ons f order by f.id limit 1),
    'ledger_ids', coalesce(pg_catalog.jsonb_agg(ons.id order by ons.id), '[]'::jsonb),
    'revoked', coalesce((select pg_catalog.jsonb_agg(distinct g.grant_entry)
                         from ons r
                         cross join lateral pg_catalog.jsonb_array_elements(r.after -> 'revoked')
                           as g(grant_entry)), '[]'::jsonb))
  from ons
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

-- Revokes anon's grants in schema public (see ops.anon_public_grants) in one transaction and
-- appends a 'lockdown.on' ledger row whose after.revoked is the exact list removed. Idempotent:
-- while a lockdown is on, another `on` revokes only what anon has gained since (a later grant,
-- a migration's default privileges) and ledgers that; with nothing new it changes nothing and
-- writes no row. p_reason (or the session's app.reason) is required. Returns
-- {"active": true, "already_on", "revoked", "still_granted", "still_reachable", "ledger_id"}:
-- still_granted are anon's own grants this role could not revoke (another grantor's, or
-- default privileges of a role it is not a member of), still_reachable everything anon can
-- still use, PUBLIC's grants included.
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
  ledger_id bigint;
begin
  was_on := (ops.anon_lockdown() ->> 'active')::boolean;
  before_grants := ops.anon_public_grants();
  for entry in select e.value from pg_catalog.jsonb_array_elements(before_grants) e loop
    statement := ops.anon_grant_statement(entry, 'revoke');
    begin
      execute statement;
    exception when insufficient_privilege then
      -- Left in place and reported as still_granted; the rest of the lockdown goes ahead.
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

  ledger_id := public.record_ai_action(
    p_action => 'lockdown.on',
    p_target => 'anon',
    p_before => pg_catalog.jsonb_build_object('grants', before_grants),
    p_after => pg_catalog.jsonb_build_object('grants', after_grants, 'revoked', removed),
    p_reason => why);
  return pg_catalog.jsonb_build_object(
    'active', true, 'already_on', was_on, 'revoked', removed, 'still_granted', after_grants,
    'still_reachable', ops.anon_still_reachable(), 'ledger_id', ledger_id);
end
$$;
revoke all on function ops.lockdown_on(text) from public;

-- Grants back every grant the lockdown in force revoked (ops.anon_lockdown().revoked), and
-- nothing else: a grant someone added during the lockdown stays as it is, and an object dropped
-- meanwhile is skipped and named. One 'lockdown.off' ledger row with after.restored and
-- after.skipped. Refused (55000) when no lockdown is on: there is nothing to restore, and an
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
  ledger_id bigint;
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

  ledger_id := public.record_ai_action(
    p_action => 'lockdown.off',
    p_target => 'anon',
    p_before => pg_catalog.jsonb_build_object('grants', before_grants),
    p_after => pg_catalog.jsonb_build_object('grants', ops.anon_public_grants(),
                                             'restored', restored, 'skipped', skipped),
    p_reason => why,
    p_context => pg_catalog.jsonb_build_object('lockdown_ids', lockdown -> 'ledger_ids'));
  return pg_catalog.jsonb_build_object(
    'active', false, 'restored', restored, 'skipped', skipped, 'ledger_id', ledger_id);
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
-- migration ledger and the action ledger, which anon cannot), reviewed the same way: it adds
-- a boolean and a timestamp. Anon keeps EXECUTE through a lockdown (ops.anon_public_grants
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
