-- Learning: vw_policy_health from a per-minute rollup. The view used to aggregate every slot of
-- its 24 h window (0.8 s over 1,000,000 slots). ops.hydrate_features now keeps per-policy,
-- per-minute sums of what the view needs, from the slots and reward deltas it already reads;
-- the view adds the few raw rows the rollup does not hold yet, so it stays exact whether or not
-- the hydrate has run. docs/learning.md ("Policy health").


-- =============================================================================================
-- ops.learning_slot_eval gains logged_epsilon; ops.learning_slot_health
-- =============================================================================================

-- As before, plus logged_epsilon: context.epsilon alone, null when the slot did not log one.
-- The rollup keeps slots with and without a logged ε apart, because the others take the
-- ranker.policy flag's ε at the moment the view is read, not when the slot was rolled up.
create or replace view ops.learning_slot_eval with (security_invoker = true) as
select e.id,
       e.ts,
       e.policy,
       e.decision_id,
       e.position,
       e.candidate_id,
       e.p_exp,
       e.explored,
       e.reward,
       -- The flag is read by an uncorrelated subquery: evaluated once per query, not per row.
       -- Context values cast without guards: the table's check guarantees their types.
       coalesce((e.context ->> 'epsilon')::double precision,
                (select case when pg_catalog.jsonb_typeof(f.value -> 'epsilon') = 'number'
                             then (f.value ->> 'epsilon')::double precision end
                   from public.feature_flags f
                  where f.key = 'ranker.policy'),
                0) as epsilon,
       (e.context ->> 'k')::double precision as k,
       coalesce(e.context ->> 'greedy',
                case when not coalesce(e.explored, false) then e.candidate_id end) as greedy_id,
       case when e.context ? 'greedy' then (e.candidate_id = e.context ->> 'greedy')::int
            else (not coalesce(e.explored, false))::int
       end::double precision as target_prob,
       (e.context ->> 'epsilon')::double precision as logged_epsilon
from public.learning_events e;

revoke all on ops.learning_slot_eval from public, anon, authenticated, service_role;
grant select on ops.learning_slot_eval to service_role;

-- What one slot adds to each vw_policy_health sum (ops.policy_health), as one row per slot:
--   minute            the UTC minute of ts (date_bin: the same minute in every time zone)
--   decision          1 for a first slot (position 0), a row without a position or without a
--                     decision id (the heartbeat); else 0
--   explored          1 when explored
--   logged_epsilon    context.epsilon, null when not logged
--   expected_logged   ε(K−1)/K with the logged ε (ε itself without k); null when ε not logged
--   expected_missing  (K−1)/K (1 without k) for a slot without a logged ε, which the flag's ε
--                     multiplies when the view is read; null otherwise
--   reward            the reward, as double precision
--   positive_p_exp    p_exp when > 0 (safe-mode slots have no propensity to report)
--   weight            π(a|x)/p_exp for the greedy target when p_exp > 0
-- A view, so it is inlined into the hydrate's and the health function's queries.
create view ops.learning_slot_health with (security_invoker = true) as
select s.id,
       s.ts,
       s.policy,
       pg_catalog.date_bin('1 minute', s.ts, '2000-01-01 00:00:00+00'::timestamptz) as minute,
       (s.position = 0 or s.position is null or s.decision_id is null)::int as decision,
       coalesce(s.explored, false)::int as explored,
       s.logged_epsilon,
       case when s.k is null then s.logged_epsilon
            else s.logged_epsilon * (s.k - 1) / s.k end as expected_logged,
       case when s.logged_epsilon is null then coalesce((s.k - 1) / s.k, 1) end
         as expected_missing,
       s.reward::double precision as reward,
       case when s.p_exp > 0 then s.p_exp end as positive_p_exp,
       case when s.p_exp > 0 then s.target_prob / s.p_exp end as weight
from ops.learning_slot_eval s;

comment on view ops.learning_slot_health is
  'Each slot''s contribution to the vw_policy_health sums, with its UTC minute.';

revoke all on ops.learning_slot_health from public, anon, authenticated, service_role;
grant select on ops.learning_slot_health to service_role;


-- =============================================================================================
-- ops.learning_policy_minutes — the rollup; ops.learning_policy_minutes_stale — invalidations
-- =============================================================================================

-- Per policy (null included, as the view groups it) and UTC minute of ts, the sums of
-- ops.learning_slot_health over every slot with id <= the hydrate's event_watermark and ts at or
-- after ops.learning_hydrate_state.rollup_horizon, with rewards as the hydrate last applied
-- them (rewards recorded since wait in ops.learning_reward_log, which the view adds):
--   decisions, events, explored, rewarded, weighted   counts
--   epsilon_sum / epsilon_missing      Σ logged ε / slots without one
--   expected_sum / expected_missing    Σ expected_logged / Σ expected_missing
--   reward_sum, weight_sum             Σ reward, Σ weight
--   min_p_exp                          smallest positive p_exp (null: none)
-- Written only by ops.hydrate_features (and emptied by a TRUNCATE of learning_events).
-- About 1,440 rows per policy and day; minutes before the horizon (48 h back) are pruned.
create table ops.learning_policy_minutes (
  minute timestamptz not null,
  policy text,
  decisions bigint not null,
  events bigint not null,
  explored bigint not null,
  epsilon_sum double precision not null,
  epsilon_missing bigint not null,
  expected_sum double precision not null,
  expected_missing double precision not null,
  reward_sum double precision not null,
  rewarded bigint not null,
  min_p_exp real,
  weight_sum double precision not null,
  weighted bigint not null,
  -- Minute first: the view reads a range of minutes for every policy.
  constraint learning_policy_minutes_key unique nulls not distinct (minute, policy)
);

comment on table ops.learning_policy_minutes is
  'Per-policy, per-minute sums behind vw_policy_health, maintained by ops.hydrate_features.';

-- Minutes whose rollup rows no longer match their slots: a slot the rollup holds was deleted
-- (a user deleted, GC) or changed in a column the view reads (an owner's correction), or the
-- watermark was moved back. Appended by triggers and consumed by ops.hydrate_features with
-- DELETE … RETURNING in the statement that rebuilds those minutes from their slots, like the
-- reward-delta log: a mark committed after the hydrate's snapshot stays for the next pass.
-- Until then the health view computes a marked minute from its slots. Only minutes at or after
-- the rollup horizon are marked (GC's deletes, 90 days back, mark nothing).
create table ops.learning_policy_minutes_stale (
  id bigint generated always as identity primary key,
  minute timestamptz not null,
  logged_at timestamptz not null default pg_catalog.now()
);

comment on table ops.learning_policy_minutes_stale is
  'Minutes of ops.learning_policy_minutes to rebuild from their slots (ops.hydrate_features).';

alter table ops.learning_policy_minutes enable row level security;
alter table ops.learning_policy_minutes_stale enable row level security;
create policy learning_policy_minutes_service on ops.learning_policy_minutes
  for all to service_role using (true) with check (true);
create policy learning_policy_minutes_stale_service on ops.learning_policy_minutes_stale
  for all to service_role using (true) with check (true);

revoke all on ops.learning_policy_minutes, ops.learning_policy_minutes_stale
  from public, anon, authenticated, service_role;
-- The hydrate runs with the caller's rights (service_role) and maintains both; the health
-- function reads them. Marks are written by the SECURITY DEFINER triggers below.
grant select, insert, update, delete on ops.learning_policy_minutes to service_role;
grant select, delete on ops.learning_policy_minutes_stale to service_role;
revoke all on sequence ops.learning_policy_minutes_stale_id_seq
  from public, anon, authenticated, service_role;

-- Where the rollup starts: slots with ts before it are not rolled up, and the view reads them
-- raw (only a p_now more than a day in the past reaches them). Moved forward by each hydrate
-- pass to 48 h before its now(), so the rollup stays small and a rebuild of stale minutes never
-- scans more than two days of slots.
alter table ops.learning_hydrate_state add column rollup_horizon timestamptz;
update ops.learning_hydrate_state
   set rollup_horizon = pg_catalog.date_bin('1 minute', pg_catalog.now() - interval '48 hours',
                                            '2000-01-01 00:00:00+00'::timestamptz);
alter table ops.learning_hydrate_state alter column rollup_horizon set not null;


-- =============================================================================================
-- ops.learning_reward_log gains the slot's ts and policy
-- =============================================================================================

-- Each reward delta carries its slot's ts and policy, so the health view adds pending deltas to
-- their minute and policy without looking every slot up: that join's plan followed the log's
-- statistics, which go stale for a queue the hydrate empties every 5 minutes (a hash join over
-- every slot in the window took 0.25 s). A slot whose ts or policy changes afterwards has its
-- minutes marked stale, and deltas in a stale minute are not read.
alter table ops.learning_reward_log add column ts timestamptz, add column policy text;
update ops.learning_reward_log r
   set ts = e.ts, policy = e.policy
  from public.learning_events e
 where e.id = r.event_id;

-- Appends the delta of one row's reward change, with the slot's ts and policy. SECURITY
-- DEFINER: whoever changes a reward (record_learning_reward, service_role, the owner) must not
-- need, or get, write access to the log itself. It writes only what the changed row says.
create or replace function ops.learning_events_reward_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  old_reward double precision := case when tg_op = 'UPDATE' then old.reward end;
begin
  insert into ops.learning_reward_log (event_id, candidate_id, user_id, ts, policy, reward_delta,
                                       count_delta, positive_delta)
  values (new.id, new.candidate_id, new.user_id, new.ts, new.policy,
          coalesce(new.reward, 0) - coalesce(old_reward, 0),
          (new.reward is not null)::int - (old_reward is not null)::int,
          greatest(coalesce(new.reward, 0), 0) - greatest(coalesce(old_reward, 0), 0));
  return null;
end
$$;
revoke all on function ops.learning_events_reward_changed() from public;


-- =============================================================================================
-- Triggers that mark minutes stale
-- =============================================================================================

-- Deleted slots: their minutes, when at or after the horizon. Statement-level, so GC's
-- 10,000-row batches and a user's deletion cost one insert … select each. A deleted slot past
-- the watermark (not rolled up) marks its minute too: harmless, the rebuild gives the same sums.
-- SECURITY DEFINER: deleters (service_role, the auth.users trigger, the owner) must not need
-- write access to the marks; it writes only minutes of rows the caller deleted.
create function ops.learning_events_deleted_mark_stale()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into ops.learning_policy_minutes_stale (minute)
  select distinct pg_catalog.date_bin('1 minute', o.ts, '2000-01-01 00:00:00+00'::timestamptz)
  from old_rows o
  where o.ts >= (select s.rollup_horizon from ops.learning_hydrate_state s where s.singleton);
  return null;
end
$$;
revoke all on function ops.learning_events_deleted_mark_stale() from public;

create trigger learning_events_deleted_mark_stale
  after delete on public.learning_events
  referencing old table as old_rows
  for each statement execute function ops.learning_events_deleted_mark_stale();

-- Updated slots whose health columns changed (ts, policy, position, decision_id, candidate_id,
-- p_exp, explored, context): the old and the new minute. Rewards are not among them: their
-- changes reach the rollup through ops.learning_reward_log, so record_learning_reward marks
-- nothing (a transition table cannot go with a column list, hence the comparison here).
-- SECURITY DEFINER for the same reason as the delete trigger.
create function ops.learning_events_updated_mark_stale()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into ops.learning_policy_minutes_stale (minute)
  select distinct pg_catalog.date_bin('1 minute', c.ts, '2000-01-01 00:00:00+00'::timestamptz)
  from old_rows o
  join new_rows n on n.id = o.id
  cross join lateral (values (o.ts), (n.ts)) as c(ts)
  where (o.ts, o.policy, o.position, o.decision_id, o.candidate_id, o.p_exp, o.explored,
         o.context)
        is distinct from
        (n.ts, n.policy, n.position, n.decision_id, n.candidate_id, n.p_exp, n.explored,
         n.context)
    and c.ts >= (select s.rollup_horizon from ops.learning_hydrate_state s where s.singleton);
  return null;
end
$$;
revoke all on function ops.learning_events_updated_mark_stale() from public;

create trigger learning_events_updated_mark_stale
  after update on public.learning_events
  referencing old table as old_rows new table as new_rows
  for each statement execute function ops.learning_events_updated_mark_stale();

-- TRUNCATE removes every slot without row triggers: the rollup goes with them (the pending
-- reward deltas then name no slot, and the view ignores them). SECURITY DEFINER: whoever may
-- truncate the log must not need rights on the rollup.
create function ops.learning_events_truncated()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from ops.learning_policy_minutes;
  return null;
end
$$;
revoke all on function ops.learning_events_truncated() from public;

create trigger learning_events_truncated
  after truncate on public.learning_events
  for each statement execute function ops.learning_events_truncated();

-- Moving event_watermark back (a bench or an operator re-running the hydrate over old slots)
-- would count the slots in between twice: once in the rollup, once as raw rows past the
-- watermark. Their minutes are marked so the view reads them raw and the next pass rebuilds
-- them. SECURITY DEFINER: service_role may update the state row but not write marks directly.
create function ops.learning_watermark_moved_back()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into ops.learning_policy_minutes_stale (minute)
  select distinct pg_catalog.date_bin('1 minute', e.ts, '2000-01-01 00:00:00+00'::timestamptz)
  from public.learning_events e
  where e.id > new.event_watermark
    and e.id <= old.event_watermark
    and e.ts >= old.rollup_horizon;
  return null;
end
$$;
revoke all on function ops.learning_watermark_moved_back() from public;

create trigger learning_watermark_moved_back
  after update of event_watermark on ops.learning_hydrate_state
  for each row when (new.event_watermark < old.event_watermark)
  execute function ops.learning_watermark_moved_back();

-- The slots already counted when this migration runs: their minutes are rebuilt by the next
-- hydrate pass and read raw until then. The triggers above exist from here on; creating them
-- locked out writers, so no slot changes between this and the commit.
insert into ops.learning_policy_minutes_stale (minute)
select distinct pg_catalog.date_bin('1 minute', e.ts, '2000-01-01 00:00:00+00'::timestamptz)
from public.learning_events e
cross join ops.learning_hydrate_state s
where s.singleton
  and e.ts >= s.rollup_horizon
  and e.id <= s.event_watermark;


-- =============================================================================================
-- ops.hydrate_features — as before, plus the rollup
-- =============================================================================================

-- Folds into the feature store what happened since the last pass and returns what it did:
--   events_read         learning_events rows counted (ids after the watermark, at most
--                       p_max_events of them, in id order)
--   candidates_updated  candidate_features rows inserted or updated
--   users_updated       user_features rows recomputed
--   watermark           the new watermark (last id counted)
-- Impressions come from learning_events past the watermark; rewards from
-- ops.learning_reward_log (so a reward that arrives after the watermark passed its slot is
-- counted once, when it arrives; see that table). Reward deltas are applied only for slots at
-- or below the new watermark, so a candidate's rewards never run ahead of its impressions.
-- For every user seen in either, user_features is recomputed from user_interests and the last
-- 30 days of intent_signals (a full recompute per user, so it cannot double count).
--
-- The same pass keeps ops.learning_policy_minutes equal to the health sums of every slot up to
-- the new watermark (from the rollup horizon on): the new slots' sums are added to their
-- minutes (with their rewards as they are now), the consumed reward deltas of older slots are
-- added to theirs, and every minute marked stale is rebuilt from its slots. Minutes before the
-- horizon, moved to 48 h before now(), are dropped.
--
-- Never double counts:
--   * runs are serialised by the state row's lock (FOR UPDATE): an overlapping run waits, then
--     re-reads the committed watermark and continues after it;
--   * ids are bounded by the writers' lock (below), so no in-flight row is skipped;
--   * the watermark, the consumed reward deltas and stale marks, the features and the rollup
--     change in one transaction, from one statement's snapshot.
-- Must run at READ COMMITTED: each statement has to see what committed while it waited.
-- Errors: p_max_events outside 1–1,000,000 → 22023; another isolation level → 25000;
-- writers still busy after 2 s → 55P03 (nothing changed; the next run retries).
-- jit = off: the APPLY statement's estimated cost passes jit_above_cost even for a handful of
-- new slots (its stale-minute branch is costed for a whole minute range), and compiling its
-- many expressions took about 300 ms of every pass, which no pass of at most 1,000,000 slots
-- earned back.
-- Invoker rights: service_role (hydrate-features) and the owner.
create or replace function ops.hydrate_features(p_max_events int default 100000)
returns table (events_read bigint, candidates_updated int, users_updated int, watermark bigint)
language plpgsql
volatile
set search_path = ''
set jit = off
as $$
declare
  -- How far back the rollup reaches: the health window (24 h) plus a day, so a p_now up to a
  -- day in the past still reads the rollup.
  rollup_keep constant interval := interval '48 hours';
  from_id bigint;
  bound_id bigint;
  last_id bigint;
  to_id bigint;
  read_count bigint;
  rewards_count bigint;
  candidates_count int;
  users_count int;
  horizon timestamptz;
begin
  -- GUARD: arguments and isolation
  if p_max_events is null or p_max_events not between 1 and 1000000 then
    raise exception 'p_max_events must be between 1 and 1000000' using errcode = '22023';
  end if;
  if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'ops.hydrate_features must run at READ COMMITTED isolation'
      using errcode = '25000';
  end if;

  -- FENCE: one run at a time; a second run waits here and then starts from our watermark.
  select s.event_watermark,
         greatest(s.rollup_horizon,
                  pg_catalog.date_bin('1 minute', pg_catalog.now() - rollup_keep,
                                      '2000-01-01 00:00:00+00'::timestamptz))
    into from_id, horizon
  from ops.learning_hydrate_state s
  where s.singleton
  for update;

  -- BOUND: wait for in-flight writers, read the highest visible id, release at once. Rolling
  -- back to the block's savepoint is what releases a transaction-level lock early (and undoes
  -- the lock_timeout setting), so the block ends by raising its own SQLSTATE.
  begin
    perform pg_catalog.set_config('lock_timeout', '2s', true);
    perform pg_catalog.pg_advisory_xact_lock(ops.learning_writers_lock_key());
    select coalesce(max(e.id), 0) into bound_id from public.learning_events e;
    raise exception 'release the writers lock' using errcode = 'EKH01';
  exception
    when sqlstate 'EKH01' then
      null;
    when lock_not_available then
      raise exception 'learning_events writers did not finish within 2 s; try again'
        using errcode = '55P03';
  end;

  -- READ: at most p_max_events ids past the watermark (an index range on the primary key).
  select pg_catalog.count(*), max(b.id) into read_count, last_id
  from (select e.id from public.learning_events e
         where e.id > from_id and e.id <= bound_id
         order by e.id
         limit p_max_events) b;
  -- All of (from_id, bound_id] read: the watermark may jump to the bound (ids in between that
  -- no row has are rolled back or deleted, never coming back). Otherwise stop after the last
  -- read.
  to_id := case when read_count < p_max_events then greatest(bound_id, from_id) else last_id end;

  -- APPLY: one statement, so every CTE sees the same snapshot.
  with batch as (
    select e.candidate_id, e.user_id, e.ts
    from public.learning_events e
    where e.id > from_id and e.id <= to_id
  ),
  consumed as (
    delete from ops.learning_reward_log r
    where r.event_id <= to_id
    returning r.event_id, r.candidate_id, r.user_id, r.ts, r.policy, r.reward_delta,
              r.count_delta, r.positive_delta
  ),
  impressions as (
    select b.candidate_id, pg_catalog.count(*) as n, max(b.ts) as last_seen
    from batch b
    where b.candidate_id is not null
    group by b.candidate_id
  ),
  rewards as (
    select c.candidate_id, sum(c.count_delta) as n, sum(c.reward_delta) as total,
           sum(c.positive_delta) as positive
    from consumed c
    where c.candidate_id is not null
    group by c.candidate_id
  ),
  deltas as (
    select coalesce(i.candidate_id, r.candidate_id) as candidate_id,
           coalesce(i.n, 0) as impressions, coalesce(r.n, 0) as rewards,
           coalesce(r.total, 0) as reward_sum, coalesce(r.positive, 0) as positive,
           i.last_seen
    from impressions i
    full join rewards r on r.candidate_id = i.candidate_id
  ),
  -- Update and insert as two CTEs rather than ON CONFLICT: an update adds a possibly negative
  -- popularity delta (a corrected reward) to the value decayed to now and clamps at 0, which
  -- the proposed row of an upsert cannot carry. Both see the table as it was before this
  -- statement, so each candidate goes through exactly one of them.
  updated as (
    update public.candidate_features f
       set impressions = f.impressions + d.impressions,
           rewards = f.rewards + d.rewards,
           reward_sum = f.reward_sum + d.reward_sum,
           popularity = greatest(n.popularity + d.positive, 0),
           last_seen_at = greatest(f.last_seen_at, d.last_seen),
           updated_at = pg_catalog.now()
      from deltas d
      join ops.candidate_features_now n on n.candidate_id = d.candidate_id
     where f.candidate_id = d.candidate_id
    returning 1
  ),
  inserted as (
    insert into public.candidate_features (candidate_id, impressions, rewards, reward_sum,
                                           popularity, last_seen_at, updated_at)
    select d.candidate_id, d.impressions, d.rewards, d.reward_sum, greatest(d.positive, 0),
           d.last_seen, pg_catalog.now()
    from deltas d
    where not exists (select 1 from public.candidate_features f
                       where f.candidate_id = d.candidate_id)
    returning 1
  ),
  touched as (
    select b.user_id from batch b where b.user_id is not null
    union
    select c.user_id from consumed c where c.user_id is not null
  ),
  -- Affinity per interest: the declared affinity (0 when only signals exist) moved by
  -- 0.25·tanh(sum of the last 30 days' signal weights): a few clicks add most of the 0.25, a
  -- flood of them cannot add more, and negative signals take off as much; clamped to [0, 1].
  users_written as (
    insert into public.user_features as uf (user_id, affinities, recent_signals, updated_at)
    select t.user_id, coalesce(a.affinities, '{}'::jsonb), coalesce(rs.recent, '[]'::jsonb),
           pg_catalog.now()
    from touched t
    left join lateral (
      select pg_catalog.jsonb_object_agg(
               x.interest_id::text,
               least(1.0, greatest(0.0, x.declared + 0.25 * pg_catalog.tanh(x.signal_sum))))
               as affinities
      from (
        select coalesce(ui.interest_id, sg.interest_id) as interest_id,
               coalesce(ui.affinity, 0)::double precision as declared,
               coalesce(sg.total, 0)::double precision as signal_sum
        from (select i.interest_id, i.affinity from public.user_interests i
               where i.user_id = t.user_id) ui
        full join (select s.interest_id, sum(s.weight) as total
                     from public.intent_signals s
                    where s.user_id = t.user_id
                      and s.created_at > pg_catalog.now() - interval '30 days'
                    group by s.interest_id) sg on sg.interest_id = ui.interest_id
      ) x
    ) a on true
    left join lateral (
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'interest_id', s.interest_id, 'signal', s.signal, 'weight', s.weight,
               'at', s.created_at) order by s.created_at desc, s.id desc) as recent
      from (select s.id, s.interest_id, s.signal, s.weight, s.created_at
              from public.intent_signals s
             where s.user_id = t.user_id
             order by s.created_at desc, s.id desc
             limit 20) s
    ) rs on true
    on conflict (user_id) do update
      set affinities = excluded.affinities,
          recent_signals = excluded.recent_signals,
          updated_at = excluded.updated_at
    returning 1
  ),
  -- ROLLUP (ops.learning_policy_minutes), from the same snapshot as the deltas consumed above.
  stale as (
    delete from ops.learning_policy_minutes_stale x
    returning x.minute
  ),
  stale_minutes as (
    select distinct x.minute from stale x where x.minute >= horizon
  ),
  -- Slots whose sums enter the rollup: the new ones in minutes that stay incremental, and
  -- every counted slot of a stale minute (rebuilt from the slots as they are now).
  rollup_slots as (
    select h.* from ops.learning_slot_health h
    where h.id > from_id and h.id <= to_id and h.ts >= horizon
      and not exists (select 1 from stale_minutes m where m.minute = h.minute)
    union all
    select h.* from stale_minutes m
    join ops.learning_slot_health h
      on h.ts >= m.minute and h.ts < m.minute + interval '1 minute'
    where h.id <= to_id
  ),
  -- The sums of the new slots, and the consumed reward deltas of slots counted in earlier
  -- passes (a new slot's reward is in its sums already); merged adds the rollup's current row
  -- where the minute is not rebuilt.
  additions as (
    select r.minute, r.policy,
           sum(r.decision)::bigint as decisions,
           pg_catalog.count(*) as events,
           sum(r.explored)::bigint as explored,
           coalesce(sum(r.logged_epsilon), 0) as epsilon_sum,
           pg_catalog.count(*) - pg_catalog.count(r.logged_epsilon) as epsilon_missing,
           coalesce(sum(r.expected_logged), 0) as expected_sum,
           coalesce(sum(r.expected_missing), 0) as expected_missing,
           coalesce(sum(r.reward), 0) as reward_sum,
           pg_catalog.count(r.reward) as rewarded,
           min(r.positive_p_exp) as min_p_exp,
           coalesce(sum(r.weight), 0) as weight_sum,
           pg_catalog.count(r.weight) as weighted
    from rollup_slots r
    group by r.minute, r.policy
    union all
    select c.minute, c.policy, 0, 0, 0, 0, 0, 0, 0, sum(c.reward_delta), sum(c.count_delta),
           null, 0, 0
    from (select pg_catalog.date_bin('1 minute', c.ts, '2000-01-01 00:00:00+00'::timestamptz)
                   as minute,
                 c.policy, c.reward_delta, c.count_delta
            from consumed c
           where c.event_id <= from_id and c.ts >= horizon) c
    where not exists (select 1 from stale_minutes m where m.minute = c.minute)
    group by c.minute, c.policy
  ),
  merged as (
    select a.minute, a.policy, sum(a.decisions)::bigint as decisions,
           sum(a.events)::bigint as events, sum(a.explored)::bigint as explored,
           sum(a.epsilon_sum) as epsilon_sum, sum(a.epsilon_missing)::bigint as epsilon_missing,
           sum(a.expected_sum) as expected_sum, sum(a.expected_missing) as expected_missing,
           sum(a.reward_sum) as reward_sum, sum(a.rewarded)::bigint as rewarded,
           min(a.min_p_exp) as min_p_exp, sum(a.weight_sum) as weight_sum,
           sum(a.weighted)::bigint as weighted
    from (
      select * from additions
      union all
      select t.minute, t.policy, t.decisions, t.events, t.explored, t.epsilon_sum,
             t.epsilon_missing, t.expected_sum, t.expected_missing, t.reward_sum, t.rewarded,
             t.min_p_exp, t.weight_sum, t.weighted
      from ops.learning_policy_minutes t
      where exists (select 1 from additions d
                     where d.minute = t.minute and d.policy is not distinct from t.policy)
        and not exists (select 1 from stale_minutes m where m.minute = t.minute)
    ) a
    group by a.minute, a.policy
  ),
  -- Each (minute, policy) is written by at most one of the next two: the upsert writes what
  -- merged holds; the delete takes minutes before the horizon (merged has none) and rows of
  -- rebuilt minutes whose policy has no slot left there (so not in merged).
  rollup_written as (
    insert into ops.learning_policy_minutes as t
      (minute, policy, decisions, events, explored, epsilon_sum, epsilon_missing, expected_sum,
       expected_missing, reward_sum, rewarded, min_p_exp, weight_sum, weighted)
    select m.minute, m.policy, m.decisions, m.events, m.explored, m.epsilon_sum,
           m.epsilon_missing, m.expected_sum, m.expected_missing, m.reward_sum, m.rewarded,
           m.min_p_exp, m.weight_sum, m.weighted
    from merged m
    on conflict (minute, policy) do update
      set decisions = excluded.decisions, events = excluded.events,
          explored = excluded.explored, epsilon_sum = excluded.epsilon_sum,
          epsilon_missing = excluded.epsilon_missing, expected_sum = excluded.expected_sum,
          expected_missing = excluded.expected_missing, reward_sum = excluded.reward_sum,
          rewarded = excluded.rewarded, min_p_exp = excluded.min_p_exp,
          weight_sum = excluded.weight_sum, weighted = excluded.weighted
    returning 1
  ),
  rollup_dropped as (
    delete from ops.learning_policy_minutes t
    where t.minute < horizon
       or (exists (select 1 from stale_minutes m where m.minute = t.minute)
           and not exists (select 1 from merged g
                            where g.minute = t.minute and g.policy is not distinct from t.policy))
    returning 1
  )
  select (select pg_catalog.count(*) from updated) + (select pg_catalog.count(*) from inserted),
         (select pg_catalog.count(*) from users_written),
         (select pg_catalog.count(*) from consumed)
    into candidates_count, users_count, rewards_count;

  update ops.learning_hydrate_state s
     set event_watermark = to_id,
         rollup_horizon = horizon,
         last_run_at = pg_catalog.now(),
         last_events_read = read_count,
         last_rewards_applied = rewards_count,
         last_candidates_updated = candidates_count,
         last_users_updated = users_count
   where s.singleton;

  return query select read_count, candidates_count, users_count, to_id;
end
$$;
revoke all on function ops.hydrate_features(int) from public;
grant execute on function ops.hydrate_features(int) to service_role;


-- =============================================================================================
-- ops.policy_health and public.vw_policy_health
-- =============================================================================================

-- vw_policy_health's rows for the window [p_now − 24 h, p_now], computed from
--   * the rollup's complete minutes in the window that are not marked stale, from the rollup
--     horizon on (minute m with window start <= m and m + 1 minute <= p_now);
--   * the reward deltas not applied to those minutes yet (ops.learning_reward_log, for slots up
--     to the watermark: a slot past it is read raw with its reward);
--   * raw slots for the rest: the partial first and last minutes, anything before the horizon,
--     stale minutes, and slots past the watermark in the rollup's minutes.
-- These parts are disjoint and together are exactly the window's slots as they are in the
-- caller's snapshot (every statement here reads the same one: a STABLE function does), so the
-- result is what aggregating every slot would give, whether or not the hydrate has run.
-- Columns and their meaning: the view's (20261202020200_learning_policy_health_and_ope.sql);
-- a slot without a logged ε takes the ranker.policy flag's ε as the view is read.
-- jit = off: the plan is a few small index ranges; JIT compilation would cost more than the
-- whole query (it was 300–400 ms of the old full-window aggregate).
-- Errors: p_now null → 22023. Invoker rights: service_role and the owner.
create function ops.policy_health(p_now timestamptz default pg_catalog.now())
returns table (
  policy text,
  decisions bigint,
  events bigint,
  exploration_rate double precision,
  epsilon double precision,
  expected_exploration_rate double precision,
  avg_reward double precision,
  rewarded bigint,
  min_p_exp real,
  mean_importance_weight double precision,
  window_start timestamptz,
  window_end timestamptz
)
language plpgsql
stable
rows 10
set search_path = ''
set jit = off
as $$
#variable_conflict use_column
declare
  from_ts timestamptz;
  covered_from timestamptz;
  covered_to timestamptz;
  counted_to bigint;
  horizon timestamptz;
  flag_epsilon double precision;
begin
  -- GUARD: arguments
  if p_now is null then
    raise exception 'p_now must not be null' using errcode = '22023';
  end if;

  from_ts := p_now - interval '24 hours';
  select s.event_watermark, s.rollup_horizon into counted_to, horizon
  from ops.learning_hydrate_state s
  where s.singleton;
  -- The rollup's minutes in the window: from the first complete one (not before the horizon)
  -- to the one holding p_now, exclusive; both minute-aligned.
  covered_to := pg_catalog.date_bin('1 minute', p_now, '2000-01-01 00:00:00+00'::timestamptz);
  covered_from := least(
    greatest(pg_catalog.date_bin('1 minute', from_ts + interval '1 minute' - interval '1 microsecond',
                                 '2000-01-01 00:00:00+00'::timestamptz),
             horizon),
    covered_to);
  -- As ops.learning_slot_eval reads it for a slot that did not log ε.
  flag_epsilon := coalesce(
    (select case when pg_catalog.jsonb_typeof(f.value -> 'epsilon') = 'number'
                 then (f.value ->> 'epsilon')::double precision end
       from public.feature_flags f
      where f.key = 'ranker.policy'),
    0);

  return query
  with stale as (
    select distinct x.minute from ops.learning_policy_minutes_stale x
    where x.minute >= covered_from and x.minute < covered_to
  ),
  raw_slots as (
    select h.* from ops.learning_slot_health h
    where h.ts >= from_ts and h.ts < covered_from
    union all
    select h.* from ops.learning_slot_health h
    where h.ts >= covered_to and h.ts <= p_now
    union all
    select h.* from stale m
    join ops.learning_slot_health h
      on h.ts >= m.minute and h.ts < m.minute + interval '1 minute'
    union all
    -- By minute rather than ts, so that only the primary key can drive it: a few minutes of
    -- slots past the watermark, never the whole covered range through the ts index.
    select h.* from ops.learning_slot_health h
    where h.id > counted_to and h.minute >= covered_from and h.minute < covered_to
      and not exists (select 1 from stale m where m.minute = h.minute)
  ),
  parts as (
    select r.policy,
           sum(r.decision)::bigint as decisions,
           pg_catalog.count(*) as events,
           sum(r.explored)::bigint as explored,
           coalesce(sum(r.logged_epsilon), 0) as epsilon_sum,
           pg_catalog.count(*) - pg_catalog.count(r.logged_epsilon) as epsilon_missing,
           coalesce(sum(r.expected_logged), 0) as expected_sum,
           coalesce(sum(r.expected_missing), 0) as expected_missing,
           coalesce(sum(r.reward), 0) as reward_sum,
           pg_catalog.count(r.reward) as rewarded,
           min(r.positive_p_exp) as min_p_exp,
           coalesce(sum(r.weight), 0) as weight_sum,
           pg_catalog.count(r.weight) as weighted
    from raw_slots r
    group by r.policy
    union all
    select t.policy, sum(t.decisions)::bigint, sum(t.events)::bigint, sum(t.explored)::bigint,
           sum(t.epsilon_sum), sum(t.epsilon_missing)::bigint, sum(t.expected_sum),
           sum(t.expected_missing), sum(t.reward_sum), sum(t.rewarded)::bigint,
           min(t.min_p_exp), sum(t.weight_sum), sum(t.weighted)::bigint
    from ops.learning_policy_minutes t
    where t.minute >= covered_from and t.minute < covered_to
      and not exists (select 1 from stale m where m.minute = t.minute)
    group by t.policy
    union all
    select d.policy, 0, 0, 0, 0, 0, 0, 0, sum(d.reward_delta), sum(d.count_delta)::bigint,
           null, 0, 0
    from ops.learning_reward_log d
    where d.event_id <= counted_to and d.ts >= covered_from and d.ts < covered_to
      and not exists (select 1 from stale m
                       where m.minute = pg_catalog.date_bin('1 minute', d.ts,
                                                            '2000-01-01 00:00:00+00'::timestamptz))
    group by d.policy
  )
  select p.policy,
         sum(p.decisions)::bigint,
         sum(p.events)::bigint,
         sum(p.explored)::double precision / sum(p.events)::double precision,
         (sum(p.epsilon_sum) + flag_epsilon * sum(p.epsilon_missing)::double precision)
           / sum(p.events)::double precision,
         (sum(p.expected_sum) + flag_epsilon * sum(p.expected_missing))
           / sum(p.events)::double precision,
         sum(p.reward_sum) / nullif(sum(p.rewarded), 0)::double precision,
         sum(p.rewarded)::bigint,
         min(p.min_p_exp),
         sum(p.weight_sum) / nullif(sum(p.weighted), 0)::double precision,
         from_ts,
         p_now
  from parts p
  group by p.policy
  having sum(p.events) > 0;
end
$$;
revoke all on function ops.policy_health(timestamptz) from public;
grant execute on function ops.policy_health(timestamptz) to service_role;

-- The same columns, names and types as before; the runbook's SELECT * works unchanged.
-- security_invoker: readers need their own rights (service_role, the owner), as before.
create or replace view public.vw_policy_health with (security_invoker = true) as
select h.policy, h.decisions, h.events, h.exploration_rate, h.epsilon,
       h.expected_exploration_rate, h.avg_reward, h.rewarded, h.min_p_exp,
       h.mean_importance_weight, h.window_start, h.window_end
from ops.policy_health(pg_catalog.now()) h;

comment on view public.vw_policy_health is
  'Per policy, last 24 h: decisions, events, exploration vs expected, epsilon, rewards, '
  'propensity diagnostics (ops.policy_health, from the per-minute rollup). docs/learning.md.';

revoke all on public.vw_policy_health from public, anon, authenticated, service_role;
grant select on public.vw_policy_health to service_role;
