-- ops.policy_health, redefined with one change: the slots of stale minutes are read minute by
-- minute through the learning_events ts index. As a plain join of the stale minutes to
-- ops.learning_slot_health, the planner could not estimate the range condition (ts within a
-- minute of a stale minute's start) and often chose to read every learning event and test it
-- against the stale list, on every call, even with no stale minute at all: with the 90 days of
-- events kept, every read of vw_policy_health (and every alert evaluation) scanned the whole
-- table. supabase/tests/perf_sanity.test.sql catches it. Everything else, the result included,
-- is as 20261202070000_learning_policy_health_rollup.sql defines it; its comment there holds.
create or replace function ops.policy_health(p_now timestamptz default pg_catalog.now())
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
    -- Each stale minute drives its own range of the ts index (LATERAL, and OFFSET 0 so the
    -- planner cannot flatten it back into a plain join).
    select h.* from stale m
    cross join lateral (
      select s.* from ops.learning_slot_health s
      where s.ts >= m.minute and s.ts < m.minute + interval '1 minute'
      offset 0
    ) h
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
