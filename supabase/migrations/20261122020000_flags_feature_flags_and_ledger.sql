-- Feature flags (with the global.safe_mode kill switch and percentage rollouts) and the action
-- ledger that records every flag change. Operators steer the live system with these flags, so
-- the database validates every value and keeps an append-only trail of who changed what, when
-- and why. Issue 4; the runbook is docs/flags.md.


-- =============================================================================================
-- public.ai_action_ledger — append-only trail of operator and system actions
-- =============================================================================================

-- One row per action that changed how the system behaves: every insert, update and delete of a
-- flag (written by the trigger below, whoever made the change), and later other parts' own
-- actions (through public.record_ai_action). `before`/`after` are snapshots of the target;
-- `context` says how the change arrived (role, application, transaction).
-- Rows are never updated or deleted except by the table owner (see the guard trigger below).
create table public.ai_action_ledger (
  id bigint generated always as identity primary key,
  -- clock_timestamp(), not now(): several changes in one transaction still sort in order.
  "timestamp" timestamptz not null default pg_catalog.clock_timestamp(),
  actor text not null,
  action text not null check (action <> ''),
  target text,
  before jsonb,
  after jsonb,
  reason text,
  context jsonb not null default '{}'::jsonb
);

comment on table public.ai_action_ledger is
  'Append-only trail of actions that change system behaviour (flag changes and more). '
  'Only the table owner may update or delete rows.';

-- The runbook reads the latest rows; the ops tools read one target's history.
create index ai_action_ledger_timestamp_idx on public.ai_action_ledger ("timestamp" desc);
create index ai_action_ledger_target_idx on public.ai_action_ledger (target, "timestamp" desc);

alter table public.ai_action_ledger enable row level security;

-- service_role (ops tools, functions) reads the trail; nobody but the owner writes it directly.
-- service_role bypasses RLS anyway; the policy states the intent and keeps working if that ever
-- changes.
create policy ai_action_ledger_service_read on public.ai_action_ledger
  for select to service_role using (true);

revoke all on table public.ai_action_ledger from public, anon, authenticated, service_role;
grant select on table public.ai_action_ledger to service_role;


-- ---------------------------------------------------------------------------------------------
-- Who is acting: JWT subject, else app.actor, else pg_cron, else the database role
-- ---------------------------------------------------------------------------------------------

-- The caller's `request.jwt.claims` as a jsonb object, or null when unset, empty, not JSON or
-- not an object. Safe on purpose: the ledger reads the claims on every flag write, and a
-- malformed setting (a buggy client, a hand-typed set_config) must not make flag writes fail;
-- the kill switch has to work whatever the session looks like. auth.jwt()/auth.uid() still
-- raise on such claims (Supabase's behaviour); the flag write path does not call them.
-- plpgsql with an exception block because PG 15 has no pg_input_is_valid(); the
-- subtransaction is only entered when the setting is non-empty.
create or replace function ops.request_jwt_claims()
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
declare
  raw text := nullif(pg_catalog.current_setting('request.jwt.claims', true), '');
  claims jsonb;
begin
  if raw is null then
    return null;
  end if;
  begin
    claims := raw::jsonb;
  exception when data_exception or program_limit_exceeded then
    -- 22P02 invalid json, 22P05 bad escapes, 54001 nesting too deep: treat as no claims.
    return null;
  end;
  return case when pg_catalog.jsonb_typeof(claims) = 'object' then claims end;
end
$$;
revoke all on function ops.request_jwt_claims() from public;
grant execute on function ops.request_jwt_claims() to service_role;

-- The actor for a ledger row. Called from SECURITY DEFINER code, where current_user is the
-- function's owner; the `role` setting still holds the role the caller switched to (what
-- PostgREST, our functions and the tests do with set_config('role', …)), and session_user is
-- the login role when nobody switched. Order:
--   1. the JWT subject (a signed-in user; unreadable claims count as none),
--   2. the `app.actor` setting (the ops CLI sets it, e.g. 'ops:alice'; so may any session),
--   3. 'pg_cron' when application_name is 'pg_cron' (pg_cron sets it for every job it runs,
--      so a cron-made change is not mistaken for the console, which is the same role),
--   4. the role the session switched to (`role` setting), else session_user.
create or replace function ops.ledger_actor()
returns text
language sql
stable
set search_path = ''
as $$
  select coalesce(
    nullif(ops.request_jwt_claims() ->> 'sub', ''),
    nullif(pg_catalog.current_setting('request.jwt.claim.sub', true), ''),
    nullif(pg_catalog.current_setting('app.actor', true), ''),
    case when pg_catalog.current_setting('application_name', true) = 'pg_cron'
         then 'pg_cron' end,
    nullif(pg_catalog.current_setting('role', true), 'none'),
    session_user::text
  )
$$;
revoke all on function ops.ledger_actor() from public;
grant execute on function ops.ledger_actor() to service_role;

-- How the action arrived, for the ledger's `context`: the effective role, the JWT's role
-- claim, the login role, the client's application_name (pg_cron sets 'pg_cron', our functions
-- 'edge-kernel'), the transaction id (groups the rows of one change set), and
-- `jwt_claims_malformed: true` when request.jwt.claims was set but unreadable.
create or replace function ops.ledger_context()
returns jsonb
language sql
volatile
set search_path = ''
as $$
  select pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
    'role', coalesce(nullif(pg_catalog.current_setting('role', true), 'none'), session_user::text),
    'jwt_role', nullif(c.claims ->> 'role', ''),
    'jwt_claims_malformed',
      case when c.claims is null
                and nullif(pg_catalog.current_setting('request.jwt.claims', true), '') is not null
           then true end,
    'session_user', session_user::text,
    'application_name', nullif(pg_catalog.current_setting('application_name', true), ''),
    'txid', pg_catalog.txid_current()))
  from (select ops.request_jwt_claims() as claims) c
$$;
revoke all on function ops.ledger_context() from public;
grant execute on function ops.ledger_context() to service_role;


-- ---------------------------------------------------------------------------------------------
-- public.record_ai_action — how other parts append their own actions
-- ---------------------------------------------------------------------------------------------

-- Appends one ledger row with the actor, reason (`app.reason` unless given) and context filled
-- in the same way as for flag changes, and returns its id. SECURITY DEFINER because no API role
-- may insert into the ledger directly: going through here is what keeps actor and context
-- honest. service_role only (workers, ops tools); users act through functions that call it.
create or replace function public.record_ai_action(
  p_action text,
  p_target text default null,
  p_before jsonb default null,
  p_after jsonb default null,
  p_reason text default null,
  p_context jsonb default null
)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  new_id bigint;
begin
  -- GUARD: an action name is what readers filter on.
  if p_action is null or pg_catalog.btrim(p_action) = '' then
    raise exception 'p_action is required' using errcode = '22023';
  end if;

  insert into public.ai_action_ledger (actor, action, target, before, after, reason, context)
  values (
    ops.ledger_actor(), p_action, p_target, p_before, p_after,
    coalesce(p_reason, nullif(pg_catalog.current_setting('app.reason', true), '')),
    ops.ledger_context() || coalesce(p_context, '{}'::jsonb))
  returning id into new_id;
  return new_id;
end
$$;
revoke all on function public.record_ai_action(text, text, jsonb, jsonb, text, jsonb) from public;
grant execute on function public.record_ai_action(text, text, jsonb, jsonb, text, jsonb)
  to service_role;


-- ---------------------------------------------------------------------------------------------
-- Immutability: only the owner updates, deletes or truncates
-- ---------------------------------------------------------------------------------------------

-- No API role holds UPDATE/DELETE/TRUNCATE (revoked above), which already stops them. This
-- trigger is the second lock: a future grant by mistake (or a SECURITY DEFINER function owned
-- by another role) still cannot rewrite history. SECURITY INVOKER on purpose: current_user must
-- be whoever is changing the rows. Members of the owner role (and superusers) pass, so the
-- owner can still prune the ledger deliberately.
create or replace function ops.ai_action_ledger_guard()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  owner_role name;
begin
  select c.relowner::regrole::text into owner_role
  from pg_catalog.pg_class c
  where c.oid = tg_relid;

  if not pg_catalog.pg_has_role(current_user, owner_role, 'MEMBER') then
    raise exception 'ai_action_ledger is append-only: % is not allowed', pg_catalog.lower(tg_op)
      using errcode = '42501';
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end
$$;
revoke all on function ops.ai_action_ledger_guard() from public;

create trigger ai_action_ledger_append_only
  before update or delete on public.ai_action_ledger
  for each row execute function ops.ai_action_ledger_guard();

create trigger ai_action_ledger_no_truncate
  before truncate on public.ai_action_ledger
  for each statement execute function ops.ai_action_ledger_guard();


-- =============================================================================================
-- public.feature_flags
-- =============================================================================================

-- The flags operators steer the live system with. `value` is a JSON object; known keys are
-- validated by the trigger below. Boolean flags read {"enabled": bool, "percentage"?: 0-100,
-- "group"?: text}: a user is in when enabled and their bucket (1-100, see flag_bucket) is
-- <= percentage (100 when absent). Readers cache the table (supabase/functions/_shared/flags.ts,
-- TTL 5 s), so a change takes effect within the TTL.
create table public.feature_flags (
  key text primary key
    check (key ~ '^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,199}$'),
  value jsonb not null,
  description text,
  updated_at timestamptz not null default pg_catalog.now(),
  updated_by text
);

comment on table public.feature_flags is
  'Feature flags and the global.safe_mode kill switch. Every change is written to '
  'public.ai_action_ledger. Runbook: docs/flags.md.';

alter table public.feature_flags enable row level security;

-- Signed-in users may read flags (a client may gate UI on them); they are not secrets.
create policy feature_flags_authenticated_read on public.feature_flags
  for select to authenticated using (true);
-- service_role manages flags (ops tools, functions); stated although it bypasses RLS.
create policy feature_flags_service_all on public.feature_flags
  for all to service_role using (true) with check (true);

revoke all on table public.feature_flags from public, anon, authenticated, service_role;
grant select on table public.feature_flags to authenticated;
grant select, insert, update, delete on table public.feature_flags to service_role;


-- ---------------------------------------------------------------------------------------------
-- Validation: the rollout fields of every key, plus the shape of known keys
-- ---------------------------------------------------------------------------------------------

-- Raises 22023 with '<key>: <what is wrong>' when `value` is not acceptable for `key`, so an
-- invalid write fails with a clear message and changes nothing. Rules:
--   every key     value is a JSON object; when present, "enabled" is a boolean, "percentage" a
--                 number from 0 to 100, "group" a non-empty string (the evaluators read these
--                 on any key: a typo such as "percentage": "5" must not become a 100 % rollout);
--                 other properties are free.
--   boolean flags (the four contract ones) need "enabled" and accept nothing else than
--                 enabled / percentage / group: a misspelt "percent" would silently mean 100 %.
--   ranker.policy a non-empty "version" and an "epsilon" from 0 to 1.
-- A later migration adds keys by replacing this function.
create or replace function public.validate_feature_flag(p_key text, p_value jsonb)
returns void
language plpgsql
immutable
set search_path = ''
as $$
declare
  extra text;
  pct numeric;
begin
  if p_value is null or pg_catalog.jsonb_typeof(p_value) <> 'object' then
    raise exception '%: value must be a JSON object', p_key using errcode = '22023';
  end if;

  -- The rollout fields, on any key.
  if p_value ? 'enabled' and pg_catalog.jsonb_typeof(p_value -> 'enabled') <> 'boolean' then
    raise exception '%: "enabled" must be a boolean', p_key using errcode = '22023';
  end if;
  if p_value ? 'percentage' then
    if pg_catalog.jsonb_typeof(p_value -> 'percentage') <> 'number' then
      raise exception '%: "percentage" must be a number from 0 to 100', p_key
        using errcode = '22023';
    end if;
    pct := (p_value ->> 'percentage')::numeric;
    if pct < 0 or pct > 100 then
      raise exception '%: "percentage" must be a number from 0 to 100', p_key
        using errcode = '22023';
    end if;
  end if;
  if p_value ? 'group' and (pg_catalog.jsonb_typeof(p_value -> 'group') <> 'string'
                            or pg_catalog.btrim(p_value ->> 'group') = '') then
    raise exception '%: "group" must be a non-empty string', p_key using errcode = '22023';
  end if;

  if p_key in ('global.safe_mode', 'marketplace.suggest', 'learning.enabled',
               'crush_mode.enabled') then
    -- GUARD: only the properties the evaluators read.
    select k into extra
    from pg_catalog.jsonb_object_keys(p_value) k
    where k not in ('enabled', 'percentage', 'group')
    order by k
    limit 1;
    if extra is not null then
      raise exception '%: unknown property "%" (allowed: enabled, percentage, group)',
        p_key, extra using errcode = '22023';
    end if;
    if not p_value ? 'enabled' then
      raise exception '%: "enabled" must be a boolean', p_key using errcode = '22023';
    end if;

  elsif p_key = 'ranker.policy' then
    if pg_catalog.jsonb_typeof(p_value -> 'version') is distinct from 'string'
       or pg_catalog.btrim(p_value ->> 'version') = '' then
      raise exception '%: "version" must be a non-empty string', p_key using errcode = '22023';
    end if;
    -- Two statements: a cast inside an OR could run before its type guard.
    if pg_catalog.jsonb_typeof(p_value -> 'epsilon') is distinct from 'number' then
      raise exception '%: "epsilon" must be a number from 0 to 1', p_key using errcode = '22023';
    end if;
    if (p_value ->> 'epsilon')::numeric not between 0 and 1 then
      raise exception '%: "epsilon" must be a number from 0 to 1', p_key using errcode = '22023';
    end if;
  end if;
end
$$;
revoke all on function public.validate_feature_flag(text, jsonb) from public;
grant execute on function public.validate_feature_flag(text, jsonb) to authenticated, service_role;

-- BEFORE INSERT/UPDATE: validates the value and stamps updated_at / updated_by, so every write
-- path (console, function, cron) keeps them right without the caller's help. An explicit
-- `updated_at = now()` (as in the runbook) is harmless.
create or replace function ops.feature_flags_before_write()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform public.validate_feature_flag(new.key, new.value);
  new.updated_at := pg_catalog.now();
  new.updated_by := ops.ledger_actor();
  return new;
end
$$;
revoke all on function ops.feature_flags_before_write() from public;

create trigger feature_flags_validate
  before insert or update on public.feature_flags
  for each row execute function ops.feature_flags_before_write();


-- ---------------------------------------------------------------------------------------------
-- Ledger: every insert, update, delete (and truncate) of a flag
-- ---------------------------------------------------------------------------------------------

-- AFTER each row change: one ledger row with before/after = the flag's value (null for the
-- missing side of an insert or delete), the actor (ops.ledger_actor), the reason from
-- `app.reason`, and the context. A TRUNCATE records every flag it is about to remove.
-- SECURITY DEFINER because the roles that may change flags (service_role) must not be able to
-- insert into the ledger themselves; the ledger_actor()/ledger_context() calls read the
-- caller's `role` setting, so the actor is still the caller, not this function's owner.
create or replace function ops.feature_flags_ledger()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  snapshot_before jsonb;
  snapshot_after jsonb;
begin
  if tg_op = 'TRUNCATE' then
    -- A statement trigger: the rows are still there (BEFORE TRUNCATE), record them all.
    select pg_catalog.jsonb_object_agg(f.key, f.value) into snapshot_before
    from public.feature_flags f;
    insert into public.ai_action_ledger (actor, action, target, before, after, reason, context)
    values (ops.ledger_actor(), 'feature_flags.truncate', 'feature_flags', snapshot_before,
            null, nullif(pg_catalog.current_setting('app.reason', true), ''),
            ops.ledger_context());
    return null;
  end if;

  if tg_op in ('UPDATE', 'DELETE') then
    snapshot_before := old.value;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    snapshot_after := new.value;
  end if;

  insert into public.ai_action_ledger (actor, action, target, before, after, reason, context)
  values (
    ops.ledger_actor(),
    'feature_flags.' || pg_catalog.lower(tg_op),
    case when tg_op = 'DELETE' then old.key else new.key end,
    snapshot_before,
    snapshot_after,
    nullif(pg_catalog.current_setting('app.reason', true), ''),
    ops.ledger_context()
      -- The description is not part of before/after (it does not steer anything), but a new
      -- or changed one is kept here; so is the old name of a renamed key.
      || case
           when tg_op = 'INSERT' then
             pg_catalog.jsonb_strip_nulls(
               pg_catalog.jsonb_build_object('description', new.description))
           when tg_op = 'UPDATE' and old.description is distinct from new.description then
             pg_catalog.jsonb_build_object('description',
               pg_catalog.jsonb_build_object('before', old.description,
                                             'after', new.description))
           else '{}'::jsonb
         end
      || case when tg_op = 'UPDATE' and old.key <> new.key
           then pg_catalog.jsonb_build_object('previous_key', old.key)
           else '{}'::jsonb end);
  return null;
end
$$;
revoke all on function ops.feature_flags_ledger() from public;

create trigger feature_flags_ledger_row
  after insert or update or delete on public.feature_flags
  for each row execute function ops.feature_flags_ledger();

create trigger feature_flags_ledger_truncate
  before truncate on public.feature_flags
  for each statement execute function ops.feature_flags_ledger();


-- =============================================================================================
-- Percentage rollouts: bucket and evaluation (mirrored by _shared/bucket.ts and flags.ts)
-- =============================================================================================

-- A user's bucket (1-100) for a rollout seed (the flag's "group", else its key): the first 4
-- bytes of SHA-256("<seed>:<user id>") as an unsigned big-endian integer, mod 100, plus 1.
-- Deterministic, so a user in at 5 % stays in at 25 % (in means bucket <= percentage). The
-- arithmetic is bigint because the 32-bit value does not fit a signed int. Core sha256() (PG 11+)
-- needs no extension. supabase/tests/flags/bucket_vectors.tsv pins the results.
create or replace function public.flag_bucket(p_seed text, p_user_id uuid)
returns int
language sql
immutable
strict
parallel safe
set search_path = ''
as $$
  select ((pg_catalog.get_byte(h, 0)::bigint * 16777216
           + pg_catalog.get_byte(h, 1)::bigint * 65536
           + pg_catalog.get_byte(h, 2)::bigint * 256
           + pg_catalog.get_byte(h, 3)::bigint) % 100 + 1)::int
  from (select pg_catalog.sha256(pg_catalog.convert_to(p_seed || ':' || p_user_id::text, 'UTF8'))
               as h) d
$$;
revoke all on function public.flag_bucket(text, uuid) from public;
grant execute on function public.flag_bucket(text, uuid) to authenticated, service_role;

-- Whether boolean flag `p_key` is on, for `p_user_id` when given. The rules (identical in
-- _shared/flags.ts; the vectors file checks both):
--   no row                                         -> false
--   a malformed value (not an object; "enabled" not a boolean, "percentage" not a number from
--     0 to 100, or "group" not a non-empty string, when present) -> the fail-safe answer:
--     true for global.safe_mode, false for every other flag. validate_feature_flag refuses such
--     values, so this only matters if validation was bypassed (triggers disabled, a replica
--     session); it must never read as a 100 % rollout.
--   "enabled" not true                             -> false
--   no "percentage"                                -> true
--   a user                                         -> flag_bucket(group or key, user) <= percentage
--   no user, percentage >= 100                     -> true
--   no user, 0 < percentage < 100                  -> false, except for the kill switch
--     global.safe_mode, which stays on: work done for nobody in particular (cron, batch jobs)
--     keeps the safe behaviour until the canary has reached everyone.
-- Executable by authenticated (reads only what RLS lets it read: all flags) and service_role.
create or replace function public.flag_enabled(p_key text, p_user_id uuid default null)
returns boolean
language plpgsql
stable
parallel safe
set search_path = ''
as $$
declare
  v jsonb;
  pct numeric;
  seed text;
  malformed boolean;
begin
  select f.value into v from public.feature_flags f where f.key = p_key;
  if v is null then
    return false;
  end if;
  -- Malformed? One check per statement: a cast inside an OR could run before its type guard.
  malformed := pg_catalog.jsonb_typeof(v) <> 'object';
  if not malformed and v ? 'enabled' then
    malformed := pg_catalog.jsonb_typeof(v -> 'enabled') <> 'boolean';
  end if;
  if not malformed and v ? 'percentage' then
    if pg_catalog.jsonb_typeof(v -> 'percentage') <> 'number' then
      malformed := true;
    else
      pct := (v ->> 'percentage')::numeric;
      malformed := pct < 0 or pct > 100;
    end if;
  end if;
  if not malformed and v ? 'group' then
    malformed := pg_catalog.jsonb_typeof(v -> 'group') <> 'string' or v ->> 'group' = '';
  end if;
  if malformed then
    return p_key = 'global.safe_mode';
  end if;

  if (v -> 'enabled') is distinct from 'true'::jsonb then
    return false;
  end if;
  if pct is null then
    return true;
  end if;
  if p_user_id is null then
    return pct >= 100 or (p_key = 'global.safe_mode' and pct > 0);
  end if;
  seed := coalesce(v ->> 'group', p_key);
  return public.flag_bucket(seed, p_user_id) <= pct;
end
$$;
revoke all on function public.flag_enabled(text, uuid) from public;
grant execute on function public.flag_enabled(text, uuid) to authenticated, service_role;


-- =============================================================================================
-- Seeds: the contract flags (data the system needs, so they ship with the migration)
-- =============================================================================================

-- `on conflict do nothing`: re-applying never overwrites an operator's setting. The ledger
-- trigger records each insert with actor 'migration:20261122020000' and this reason.
select pg_catalog.set_config('app.actor', 'migration:20261122020000', true),
       pg_catalog.set_config('app.reason', 'seed contract flags (issue 4)', true);

insert into public.feature_flags (key, value, description) values
  ('global.safe_mode', '{"enabled": false}',
   'Kill switch. On: ranker uses epsilon 0 and deterministic slates. "percentage" limits it to '
   'users whose bucket is within it (safe-mode canary: 95, 75, then off).'),
  ('ranker.policy', '{"version": "epsilon_greedy_v1", "epsilon": 0.08}',
   'Ranker policy version and exploration rate epsilon (0-1).'),
  ('marketplace.suggest', '{"enabled": true}',
   'Serve marketplace suggestions from the discovery pipeline.'),
  ('learning.enabled', '{"enabled": true}',
   'Learn from logged outcomes (off: the ranker keeps its current estimates).'),
  ('crush_mode.enabled', '{"enabled": false}',
   'Crush mode feature.')
on conflict (key) do nothing;

select pg_catalog.set_config('app.actor', '', true),
       pg_catalog.set_config('app.reason', '', true);
