-- Learning, part 1: the decision log. Every slot the ranker fills is one public.learning_events
-- row carrying the propensity of what was placed; the outcome (reward) joins later through
-- public.record_learning_reward. Also here: the learning settings (retention, reward range and
-- window, per surface), the reward-delta log the feature store consumes, and the one-statement
-- logging function the policy-ranker calls. Runbook and SQL API: docs/learning.md.


-- =============================================================================================
-- Settings: ops.learning_settings (one row) and ops.learning_surfaces (per-surface overrides)
-- =============================================================================================

-- The knobs of the learning loop, in one row so an operator changes them with one UPDATE and the
-- change is ledgered (trigger below). Retention is how long GC keeps rows; the batch settings
-- bound how much one GC call deletes (gc_batch_size rows per statement, at most gc_max_batches
-- statements per call, all in the caller's transaction). The reward range and window apply to
-- every surface unless ops.learning_surfaces overrides them.
create table ops.learning_settings (
  singleton boolean primary key default true check (singleton),
  events_retention interval not null default interval '90 days'
    check (events_retention >= interval '1 day'),
  signals_retention interval not null default interval '30 days'
    check (signals_retention >= interval '1 day'),
  gc_batch_size int not null default 10000 check (gc_batch_size between 1 and 100000),
  gc_max_batches int not null default 10 check (gc_max_batches between 1 and 1000),
  reward_window interval not null default interval '24 hours'
    check (reward_window > interval '0'),
  -- Within real's range (rewards are stored as real); BETWEEN also refuses NaN and ±Infinity.
  reward_min double precision not null default -1 check (reward_min between -1e30 and 1e30),
  reward_max double precision not null default 1 check (reward_max between -1e30 and 1e30),
  updated_at timestamptz not null default pg_catalog.now(),
  check (reward_min < reward_max),
  -- A decision must outlive its reward window, or GC could delete it while a reward is due.
  check (events_retention > reward_window)
);

comment on table ops.learning_settings is
  'Learning loop settings (one row): retention and GC batch bounds, default reward range and '
  'window. Changes are ledgered. docs/learning.md.';

-- A surface whose outcomes are not on the default scale (a rating, a watch time fraction…) or
-- that rewards later than the default window. A null column falls back to ops.learning_settings.
create table ops.learning_surfaces (
  surface text primary key check (pg_catalog.length(pg_catalog.btrim(surface)) between 1 and 100),
  reward_min double precision check (reward_min between -1e30 and 1e30),
  reward_max double precision check (reward_max between -1e30 and 1e30),
  reward_window interval check (reward_window > interval '0' and reward_window <= interval '30 days'),
  updated_at timestamptz not null default pg_catalog.now(),
  check (reward_min is null or reward_max is null or reward_min < reward_max)
);

comment on table ops.learning_surfaces is
  'Per-surface overrides of the reward range and window (null: ops.learning_settings).';

alter table ops.learning_settings enable row level security;
alter table ops.learning_surfaces enable row level security;

-- The ops CLI (service_role) reads and changes them; stated although service_role bypasses RLS.
create policy learning_settings_service on ops.learning_settings
  for all to service_role using (true) with check (true);
create policy learning_surfaces_service on ops.learning_surfaces
  for all to service_role using (true) with check (true);

revoke all on ops.learning_settings, ops.learning_surfaces
  from public, anon, authenticated, service_role;
-- One row, never inserted or deleted by anyone but the owner.
grant select, update on ops.learning_settings to service_role;
grant select, insert, update, delete on ops.learning_surfaces to service_role;

-- Every settings change goes to the action ledger (who, when, before/after, app.reason), as flag
-- changes do: these settings decide what data is deleted and which rewards are accepted. Also
-- stamps updated_at. Invoker rights: only the owner and service_role can change the tables, and
-- both may call record_ai_action.
create function ops.learning_settings_changed()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform public.record_ai_action(
    p_action => 'learning.' || tg_table_name || '.' || pg_catalog.lower(tg_op),
    -- ops.learning_surfaces:<surface>; the singleton row is just the table. Read through
    -- to_jsonb because plpgsql resolves old.surface even where the table has no such column.
    p_target => 'ops.' || tg_table_name
      || coalesce(':' || (coalesce(pg_catalog.to_jsonb(new), pg_catalog.to_jsonb(old)) ->> 'surface'),
                  ''),
    p_before => pg_catalog.to_jsonb(old),
    p_after => pg_catalog.to_jsonb(new));
  return null;
end
$$;
revoke all on function ops.learning_settings_changed() from public;

create function ops.learning_settings_touch()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$;
revoke all on function ops.learning_settings_touch() from public;

create trigger learning_settings_touch before update on ops.learning_settings
  for each row execute function ops.learning_settings_touch();
create trigger learning_surfaces_touch before update on ops.learning_surfaces
  for each row execute function ops.learning_settings_touch();
create trigger learning_settings_ledger after insert or update or delete on ops.learning_settings
  for each row execute function ops.learning_settings_changed();
create trigger learning_surfaces_ledger after insert or update or delete on ops.learning_surfaces
  for each row execute function ops.learning_settings_changed();

select pg_catalog.set_config('app.actor', 'migration:20261202020000', true),
       pg_catalog.set_config('app.reason', 'default learning settings', true);
insert into ops.learning_settings default values;
select pg_catalog.set_config('app.actor', '', true),
       pg_catalog.set_config('app.reason', '', true);


-- =============================================================================================
-- public.learning_events
-- =============================================================================================

-- One row per ranked slot: who (user_id), where (surface), what was placed (candidate_id at
-- position), by which policy, with which propensity (p_exp: the probability that this candidate
-- was the one placed in this slot, 0 for deterministic safe-mode slates), the score it had and
-- whether it was an exploration. `context` holds what offline evaluation needs to replay the slot:
-- at least k (candidates left), greedy (the greedy candidate's id) and epsilon. reward and
-- rewarded_at arrive later through record_learning_reward (at most once, within the window).
-- Columns are nullable as the contract has them, so the runbook's hand-written heartbeat row
-- (no decision_id, no position) inserts as it is; the checks refuse values no reader could use.
--
-- No foreign key on user_id: the log is written at ranking speed and must accept the runbook's
-- fixed heartbeat user on a project where that user does not exist. A deleted user's rows are
-- removed by a trigger on auth.users instead (feature store migration).
create table public.learning_events (
  id bigint generated always as identity primary key,
  ts timestamptz not null default pg_catalog.now(),
  decision_id uuid,
  user_id uuid,
  surface text check (surface is null or pg_catalog.length(surface) between 1 and 100),
  candidate_id text check (candidate_id is null or pg_catalog.length(candidate_id) between 1 and 200),
  position int check (position >= 0),
  policy text check (policy is null or pg_catalog.length(policy) between 1 and 100),
  -- NaN is above every number in Postgres, so the upper bounds also refuse it.
  p_exp real check (p_exp >= 0 and p_exp <= 1),
  score real check (score > '-Infinity' and score < 'Infinity'),
  explored boolean,
  -- Any finite value: the per-surface range is enforced where rewards come in
  -- (record_learning_reward); the owner may backfill other scales.
  reward real check (reward > '-Infinity' and reward < 'Infinity'),
  rewarded_at timestamptz,
  -- The keys the evaluators read, when present, have the type they cast to: checked once here
  -- so vw_policy_health and policy_ope can read them without a guard per row.
  context jsonb check (
    context is null
    or case when pg_catalog.jsonb_typeof(context) <> 'object' then false
            when context ? 'k' and pg_catalog.jsonb_typeof(context -> 'k') <> 'number' then false
            when context ? 'epsilon'
                 and pg_catalog.jsonb_typeof(context -> 'epsilon') <> 'number' then false
            when context ? 'greedy'
                 and pg_catalog.jsonb_typeof(context -> 'greedy') <> 'string' then false
            else (context ->> 'k')::numeric >= 1 is not false
                 and (context ->> 'epsilon')::numeric between 0 and 1 is not false
       end)
);

comment on table public.learning_events is
  'One row per ranked slot with the propensity of what was placed; rewards join later by '
  'decision_id. Read: the user (own rows), service_role; written by service_role and the owner. '
  'docs/learning.md.';

-- A reward names (decision_id, candidate_id): unique, so it lands on exactly one slot (a slate
-- never places a candidate twice). Rows without a decision id (hand-written) are not constrained.
create unique index learning_events_decision_candidate_idx
  on public.learning_events (decision_id, candidate_id);
-- A user's own rows, newest first (RLS reads, the client's history, deleting a user's rows).
create index learning_events_user_ts_idx on public.learning_events (user_id, ts desc);
-- Time ranges: vw_policy_health (last 24 h), policy_ope (since p_since), GC (oldest first) and
-- the runbook's ORDER BY ts DESC. The feature store's watermark walks the primary key (id).
create index learning_events_ts_idx on public.learning_events (ts);

alter table public.learning_events enable row level security;

-- A signed-in user reads only their own rows. `(select auth.uid())` runs once per statement.
create policy learning_events_read_own on public.learning_events
  for select to authenticated using (user_id = (select auth.uid()));
-- The policy-ranker and hydrate-features (service_role) write and read everything; stated
-- although service_role bypasses RLS. The owner (SQL editor, runbook) is not subject to RLS.
create policy learning_events_service_all on public.learning_events
  for all to service_role using (true) with check (true);

revoke all on table public.learning_events from public, anon, authenticated, service_role;
grant select on table public.learning_events to authenticated;
grant select, insert, update, delete on table public.learning_events to service_role;
-- Identity values are drawn without a sequence privilege check; nobody needs the sequence.
revoke all on sequence public.learning_events_id_seq from public, anon, authenticated, service_role;


-- =============================================================================================
-- ops.learning_reward_log — reward changes waiting for the feature store
-- =============================================================================================

-- A reward can arrive up to a day after its slot, long after hydrate-features has counted the
-- slot's impression and moved its watermark past it. Rather than rescanning old rows for new
-- rewards, every change of learning_events.reward (a reward recorded, an owner's correction, a
-- row inserted with its reward) appends its delta here, and ops.hydrate_features consumes the
-- log with DELETE … RETURNING in the transaction that applies the deltas. A delta is therefore
-- counted exactly once: a row another transaction has not committed yet is invisible and waits
-- for the next run, and a consumed row is gone.
--   reward_delta    new reward − old reward (a missing reward counts as 0)
--   count_delta     +1 when a reward appears, −1 when it is removed, 0 when it changes
--   positive_delta  the same for max(reward, 0), which feeds popularity (engagement)
create table ops.learning_reward_log (
  id bigint generated always as identity primary key,
  event_id bigint not null,
  candidate_id text,
  user_id uuid,
  reward_delta double precision not null,
  count_delta int not null check (count_delta between -1 and 1),
  positive_delta double precision not null,
  logged_at timestamptz not null default pg_catalog.now()
);

comment on table ops.learning_reward_log is
  'Reward deltas not yet applied to the feature store; consumed by ops.hydrate_features.';

alter table ops.learning_reward_log enable row level security;
create policy learning_reward_log_service on ops.learning_reward_log
  for all to service_role using (true) with check (true);
revoke all on ops.learning_reward_log from public, anon, authenticated, service_role;
-- hydrate_features runs with the caller's rights (service_role) and consumes the log.
grant select, delete on ops.learning_reward_log to service_role;
revoke all on sequence ops.learning_reward_log_id_seq from public, anon, authenticated, service_role;

-- Appends the delta of one row's reward change. SECURITY DEFINER: whoever changes a reward
-- (record_learning_reward, service_role, the owner) must not need, or get, write access to the
-- log itself. It writes only what the changed row says.
create function ops.learning_events_reward_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  old_reward double precision := case when tg_op = 'UPDATE' then old.reward end;
begin
  insert into ops.learning_reward_log (event_id, candidate_id, user_id, reward_delta, count_delta,
                                       positive_delta)
  values (new.id, new.candidate_id, new.user_id,
          coalesce(new.reward, 0) - coalesce(old_reward, 0),
          (new.reward is not null)::int - (old_reward is not null)::int,
          greatest(coalesce(new.reward, 0), 0) - greatest(coalesce(old_reward, 0), 0));
  return null;
end
$$;
revoke all on function ops.learning_events_reward_changed() from public;

-- Row triggers with WHEN: the ranker's inserts (no reward yet) never call the function.
create trigger learning_events_reward_inserted
  after insert on public.learning_events
  for each row when (new.reward is not null)
  execute function ops.learning_events_reward_changed();
create trigger learning_events_reward_updated
  after update of reward on public.learning_events
  for each row when (old.reward is distinct from new.reward)
  execute function ops.learning_events_reward_changed();


-- =============================================================================================
-- public.log_learning_decision — all slots of one decision in one statement
-- =============================================================================================

-- Writes one learning_events row per slot of decision p_decision_id, in one INSERT, and returns
-- how many it wrote: 0 (nothing written) when the learning.enabled flag is off for p_user_id,
-- so the caller needs no flag check of its own. p_slots is a JSON array (1–100 elements) of
--   {"candidate_id": text, "position": int >= 0, "p_exp": 0..1, "score": finite number,
--    "explored": bool, "context": {"k": int >= 1, "greedy": text, "epsilon": 0..1, …}}
-- which is what _shared/slate.ts produces. Errors: 22023 naming the argument or the slot field
-- (`p_slots[3].p_exp: …`); 23505 when (decision, candidate) is already logged.
-- Invoker rights, service_role only: users never write the log.
create function public.log_learning_decision(
  p_decision_id uuid,
  p_user_id uuid,
  p_surface text,
  p_policy text,
  p_slots jsonb
)
returns int
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_problem text;
  v_count int;
begin
  -- GUARD: arguments
  if p_decision_id is null then
    raise exception 'p_decision_id must not be null' using errcode = '22023';
  end if;
  if p_surface is null or pg_catalog.length(pg_catalog.btrim(p_surface)) not between 1 and 100 then
    raise exception 'p_surface must be a non-empty string of at most 100 characters'
      using errcode = '22023';
  end if;
  if p_policy is null or pg_catalog.length(pg_catalog.btrim(p_policy)) not between 1 and 100 then
    raise exception 'p_policy must be a non-empty string of at most 100 characters'
      using errcode = '22023';
  end if;
  if pg_catalog.jsonb_typeof(p_slots) is distinct from 'array'
     or pg_catalog.jsonb_array_length(p_slots) not between 1 and 100 then
    raise exception 'p_slots must be a JSON array of 1 to 100 slots' using errcode = '22023';
  end if;

  -- GUARD: each slot; the first offending field is named. CASE evaluates its branches in order,
  -- so each cast runs only after the type check before it passed.
  select pg_catalog.format('p_slots[%s].%s', s.i - 1, s.problem) into v_problem
  from (
    select i, case
      when pg_catalog.jsonb_typeof(v) <> 'object' then 'slot: must be an object'
      when pg_catalog.jsonb_typeof(v -> 'candidate_id') is distinct from 'string'
           or pg_catalog.length(pg_catalog.btrim(v ->> 'candidate_id')) not between 1 and 200
        then 'candidate_id: must be a non-empty string of at most 200 characters'
      when pg_catalog.jsonb_typeof(v -> 'position') is distinct from 'number'
           or (v ->> 'position')::numeric not between 0 and 2147483647
           or (v ->> 'position')::numeric % 1 <> 0
        then 'position: must be an integer >= 0'
      when pg_catalog.jsonb_typeof(v -> 'p_exp') is distinct from 'number'
           or (v ->> 'p_exp')::numeric not between 0 and 1
        then 'p_exp: must be a number from 0 to 1'
      when pg_catalog.jsonb_typeof(v -> 'score') is distinct from 'number'
           or pg_catalog.abs((v ->> 'score')::numeric) > 1e38
        then 'score: must be a finite number'
      when pg_catalog.jsonb_typeof(v -> 'explored') is distinct from 'boolean'
        then 'explored: must be a boolean'
      when pg_catalog.jsonb_typeof(v -> 'context') is distinct from 'object'
        then 'context: must be an object'
      when pg_catalog.jsonb_typeof(v -> 'context' -> 'k') is distinct from 'number'
           or (v -> 'context' ->> 'k')::numeric not between 1 and 2147483647
           or (v -> 'context' ->> 'k')::numeric % 1 <> 0
        then 'context.k: must be an integer >= 1'
      when pg_catalog.jsonb_typeof(v -> 'context' -> 'greedy') is distinct from 'string'
           or pg_catalog.btrim(v -> 'context' ->> 'greedy') = ''
        then 'context.greedy: must be a non-empty string'
      when pg_catalog.jsonb_typeof(v -> 'context' -> 'epsilon') is distinct from 'number'
           or (v -> 'context' ->> 'epsilon')::numeric not between 0 and 1
        then 'context.epsilon: must be a number from 0 to 1'
    end as problem
    from pg_catalog.jsonb_array_elements(p_slots) with ordinality as a(v, i)
  ) s
  where s.problem is not null
  order by s.i
  limit 1;
  if v_problem is not null then
    raise exception '%', v_problem using errcode = '22023';
  end if;
  -- GUARD: a slate places each candidate once, in slots numbered 0…n−1 (vw_policy_health
  -- counts a decision by its slot 0).
  if exists (select 1 from pg_catalog.jsonb_array_elements(p_slots) v
              group by v ->> 'candidate_id' having pg_catalog.count(*) > 1) then
    raise exception 'p_slots: each candidate_id may appear once' using errcode = '22023';
  end if;
  if (select pg_catalog.count(distinct (v ->> 'position')::int) <> pg_catalog.count(*)
             or max((v ->> 'position')::int) <> pg_catalog.count(*) - 1
        from pg_catalog.jsonb_array_elements(p_slots) v) then
    raise exception 'p_slots: positions must be 0 to n-1, each once' using errcode = '22023';
  end if;

  -- GUARD: learning off for this user (kill switch or rollout): log nothing.
  if not public.flag_enabled('learning.enabled', p_user_id) then
    return 0;
  end if;

  insert into public.learning_events (decision_id, user_id, surface, candidate_id, position,
                                      policy, p_exp, score, explored, context)
  select p_decision_id, p_user_id, p_surface, s.candidate_id, s.position, p_policy, s.p_exp,
         s.score, s.explored, s.context
  from pg_catalog.jsonb_to_recordset(p_slots)
         as s(candidate_id text, position int, p_exp real, score real, explored boolean,
              context jsonb);
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
revoke all on function public.log_learning_decision(uuid, uuid, text, text, jsonb) from public;
grant execute on function public.log_learning_decision(uuid, uuid, text, text, jsonb)
  to service_role;


-- =============================================================================================
-- public.record_learning_reward — the outcome of one slot, once, by its owner, in time
-- =============================================================================================

-- Records p_reward for candidate p_candidate_id of decision p_decision_id and returns the
-- rewarded slot. Rules, checked in this order (each with its own SQLSTATE for the HTTP layer):
--   p_decision_id null, p_candidate_id empty, p_reward null or not finite   → 22023 (400)
--   no such slot among the caller's own decisions                            → P0002 (404)
--     Another user's decision answers exactly like one that does not exist.
--   p_reward outside the surface's range (default [-1, 1])                   → 22023 (400)
--   the slot already has a reward                                            → 23505 (409)
--   now() later than the slot's ts + the surface's window (default 24 h)     → PT410 (410)
--     PT410 is PostgREST's convention for "answer HTTP 410"; no standard SQLSTATE means gone.
-- The window is configuration (ops.learning_settings / ops.learning_surfaces), not an argument:
-- this function is callable by users over the RPC route, who must not choose their own window.
-- Two concurrent calls for one slot serialise on the row lock; the second gets 23505.
--
-- Who: a signed-in user (role authenticated) rewards only rows whose user_id is auth.uid().
-- A server caller with no user (service_role, the owner: a webhook, the runbook) may reward any
-- slot. SECURITY DEFINER because users have no write access to learning_events at all; the
-- ownership test above is what stands in for RLS.
create function public.record_learning_reward(
  p_decision_id uuid,
  p_candidate_id text,
  p_reward double precision
)
returns table (decision_id uuid, candidate_id text, reward real, rewarded_at timestamptz)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
  v_any_user boolean;
  v_event_id bigint;
  v_surface text;
  v_ts timestamptz;
  v_old_reward real;
  v_min double precision;
  v_max double precision;
  v_window interval;
begin
  -- GUARD: arguments
  if p_decision_id is null then
    raise exception 'p_decision_id must not be null' using errcode = '22023';
  end if;
  if p_candidate_id is null or pg_catalog.btrim(p_candidate_id) = '' then
    raise exception 'p_candidate_id must be a non-empty string' using errcode = '22023';
  end if;
  if p_reward is null or p_reward in ('NaN', 'Infinity', '-Infinity') then
    raise exception 'p_reward must be a finite number' using errcode = '22023';
  end if;

  -- GUARD: whose slots the caller may reward. Inside SECURITY DEFINER current_user is the
  -- owner; the `role` setting still names the role the caller switched to.
  v_any_user := v_uid is null
    and coalesce(nullif(pg_catalog.current_setting('role', true), 'none'), session_user::text)
        not in ('anon', 'authenticated');

  select e.id, e.surface, e.ts, e.reward
    into v_event_id, v_surface, v_ts, v_old_reward
  from public.learning_events e
  where e.decision_id = p_decision_id
    and e.candidate_id = p_candidate_id
    and (v_any_user or e.user_id = v_uid)
  for update;
  if v_event_id is null then
    raise exception 'decision % has no candidate % for this user', p_decision_id, p_candidate_id
      using errcode = 'P0002';
  end if;

  -- GUARD: the surface's range and window (a surface row overrides the defaults column by column)
  select coalesce(s.reward_min, g.reward_min), coalesce(s.reward_max, g.reward_max),
         coalesce(s.reward_window, g.reward_window)
    into v_min, v_max, v_window
  from ops.learning_settings g
  left join ops.learning_surfaces s on s.surface = v_surface;
  if p_reward < v_min or p_reward > v_max then
    raise exception 'p_reward must be between % and %', v_min, v_max using errcode = '22023';
  end if;

  -- GUARD: once
  if v_old_reward is not null then
    raise exception 'a reward is already recorded for decision % candidate %',
      p_decision_id, p_candidate_id using errcode = '23505';
  end if;

  -- GUARD: in time
  if pg_catalog.now() > v_ts + v_window then
    raise exception 'the reward window of % for this decision has closed', v_window
      using errcode = 'PT410';
  end if;

  return query
    update public.learning_events e
       set reward = p_reward::real, rewarded_at = pg_catalog.now()
     where e.id = v_event_id
    returning e.decision_id, e.candidate_id, e.reward, e.rewarded_at;
end
$$;
revoke all on function public.record_learning_reward(uuid, text, double precision) from public;
grant execute on function public.record_learning_reward(uuid, text, double precision)
  to authenticated, service_role;
