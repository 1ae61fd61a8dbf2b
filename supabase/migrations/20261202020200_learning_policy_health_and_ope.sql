-- Learning, part 3: evaluating what the ranker logged, in the database. vw_policy_health (is
-- the policy exploring as configured, are propensities sane, is it earning rewards) and
-- policy_ope (off-policy estimates of the greedy policy's value: IPS, SNIPS, DR).
-- docs/learning.md has the formulas.


-- =============================================================================================
-- ops.learning_slot_eval — each logged slot, read the way the evaluators need it
-- =============================================================================================

-- One row per learning_events row with what both evaluators derive from it, written once here
-- (a view is inlined into each query, so this costs nothing over writing it out):
--   epsilon        context.epsilon; else the ranker.policy flag's epsilon (the runbook's
--                  heartbeat row has context {}); else 0
--   k              context.k (candidates left at the slot; at least 1 by the table's check)
--   greedy_id      context.greedy; else the placed candidate when the slot did not explore
--   target_prob    π(a|x) of the greedy target policy for what was placed: 1 when it is the
--                  greedy candidate, else 0 (without context.greedy: 1 unless explored)
create view ops.learning_slot_eval with (security_invoker = true) as
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
       end::double precision as target_prob
from public.learning_events e;

comment on view ops.learning_slot_eval is
  'learning_events with the epsilon, k, greedy candidate and greedy-target probability the '
  'evaluators derive per slot.';

revoke all on ops.learning_slot_eval from public, anon, authenticated, service_role;
grant select on ops.learning_slot_eval to service_role;


-- =============================================================================================
-- public.vw_policy_health
-- =============================================================================================

-- One row per policy that logged slots in the last 24 hours (window_start..window_end):
--   decisions                 slots at position 0 (log_learning_decision numbers a decision's
--                             slots 0…n−1), plus each row logged without a position or a
--                             decision id; counting first slots rather than distinct ids
--                             spares a sort of the whole window
--   events                    slots logged
--   exploration_rate          share of slots with explored = true
--   epsilon                   mean ε of the slots (see ops.learning_slot_eval)
--   expected_exploration_rate mean over slots of ε(K−1)/K, the probability that epsilon-greedy
--                             places a non-greedy candidate with K left; ε itself (the K → ∞
--                             limit) when a slot did not log k. exploration_rate should match
--                             it; the runbook alerts beyond ±50 % of epsilon.
--   avg_reward, rewarded      mean reward and count of rewarded slots
--   min_p_exp                 smallest positive propensity (1/min_p_exp is the largest weight)
--   mean_importance_weight    mean of π(a|x)/p_exp for the greedy target over slots with
--                             p_exp > 0, unclipped: ≈ 1 when propensities are logged right
-- Safe-mode slots (p_exp 0, ε 0) count in events and rates but not in the two propensity
-- columns. security_invoker: readers need their own SELECT on learning_events.
-- Cost: one pass over the window's rows (an index range on ts), about 2 µs a row; see
-- docs/learning.md for the figures.
create view public.vw_policy_health with (security_invoker = true) as
select s.policy,
       pg_catalog.count(*) filter (where s.position = 0 or s.position is null
                                          or s.decision_id is null) as decisions,
       pg_catalog.count(*) as events,
       avg(coalesce(s.explored, false)::int::double precision) as exploration_rate,
       avg(s.epsilon) as epsilon,
       avg(case when s.k is null then s.epsilon else s.epsilon * (s.k - 1) / s.k end)
         as expected_exploration_rate,
       avg(s.reward::double precision) as avg_reward,
       pg_catalog.count(s.reward) as rewarded,
       min(s.p_exp) filter (where s.p_exp > 0) as min_p_exp,
       avg(s.target_prob / s.p_exp) filter (where s.p_exp > 0) as mean_importance_weight,
       pg_catalog.now() - interval '24 hours' as window_start,
       pg_catalog.now() as window_end
from ops.learning_slot_eval s
where s.ts >= pg_catalog.now() - interval '24 hours'
  and s.ts <= pg_catalog.now()
group by s.policy;

comment on view public.vw_policy_health is
  'Per policy, last 24 h: decisions, events, exploration vs expected, epsilon, rewards, '
  'propensity diagnostics. docs/learning.md.';

revoke all on public.vw_policy_health from public, anon, authenticated, service_role;
grant select on public.vw_policy_health to service_role;


-- =============================================================================================
-- public.policy_ope — off-policy value of the greedy policy
-- =============================================================================================

-- Estimates the value (mean reward) the greedy target policy π would have earned on the slots
-- that policy p_policy logged since p_since, from those slots alone. Per slot i:
--   w_i = min(π(a_i|x_i) / p_exp_i, p_clip)   π = 1 when a_i is the greedy candidate, else 0
--   r_i = the reward; q̂(a) = candidate_features.reward_rate (the prior mean when missing)
--   ips    V = Σ w·r / n
--   snips  V = Σ w·r / Σ w
--   dr     V = Σ d / n,  d_i = q̂(greedy_i) + w_i·(r_i − q̂(a_i))
-- Confidence intervals are 95 % normal approximations, V ± 1.96·SE:
--   ips, dr  SE = sample standard deviation of w·r (resp. d) / √n
--   snips    delta method for a ratio: SE = √(Σ w²(r − V)²) / Σ w, with Σ w²(r − V)² expanded
--            as Σw²r² − 2V·Σw²r + V²·Σw² so that one scan suffices
-- Diagnostics (the same on each row): n (slots used), n_excluded_zero_propensity (rewarded slots
-- left out because p_exp is 0 or null: safe mode, nothing was randomised), ess = (Σw)²/Σw²,
-- max_weight, mean_weight (of the clipped weights; ≈ 1 when propensities are logged right and
-- clipping does not bind).
-- Only rewarded slots count: a slot without a reward has no outcome to weigh (a missing reward
-- is unknown, not zero; see learning_reward_rate). Values are null when no slot qualifies (and
-- CIs when fewer than two do; snips when Σw = 0).
-- Errors: null p_policy or p_since, p_clip not a finite number >= 1 → 22023.
-- Speed: one pass over the policy's rewarded rows since p_since, hash-joined to
-- candidate_features; the sums are all that is kept.
-- Invoker rights: service_role and the owner.
create function public.policy_ope(p_policy text, p_since timestamptz, p_clip real default 10)
returns table (
  estimator text,
  value double precision,
  ci_low double precision,
  ci_high double precision,
  n bigint,
  n_excluded_zero_propensity bigint,
  ess double precision,
  max_weight double precision,
  mean_weight double precision
)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
begin
  -- GUARD: arguments
  if p_policy is null then
    raise exception 'p_policy must not be null' using errcode = '22023';
  end if;
  if p_since is null then
    raise exception 'p_since must not be null' using errcode = '22023';
  end if;
  if p_clip is null or not (p_clip >= 1 and p_clip < 'Infinity'::real) then
    raise exception 'p_clip must be a finite number >= 1' using errcode = '22023';
  end if;

  return query
  with slots as (
    select s.p_exp > 0 as used,
           least(s.target_prob / nullif(s.p_exp, 0), p_clip::double precision) as w,
           s.reward::double precision as r,
           coalesce(fg.reward_rate, prior.rate) as q_greedy,
           coalesce(fa.reward_rate, prior.rate) as q_placed
    from ops.learning_slot_eval s
    cross join (select public.learning_reward_rate(0, 0) as rate) prior
    left join public.candidate_features fa on fa.candidate_id = s.candidate_id
    left join public.candidate_features fg on fg.candidate_id = s.greedy_id
    where s.policy = p_policy
      and s.ts >= p_since
      and s.reward is not null
  ),
  sums as (
    select pg_catalog.count(*) filter (where x.used) as n,
           pg_catalog.count(*) filter (where x.used is not true) as excluded,
           sum(x.w) filter (where x.used) as sw,
           sum(x.w * x.w) filter (where x.used) as sw2,
           sum(x.w * x.r) filter (where x.used) as swr,
           sum(x.w * x.w * x.r) filter (where x.used) as sw2r,
           sum(x.w * x.w * x.r * x.r) filter (where x.used) as sw2r2,
           max(x.w) filter (where x.used) as wmax,
           stddev_samp(x.w * x.r) filter (where x.used) as sd_ips,
           avg(x.q_greedy + x.w * (x.r - x.q_placed)) filter (where x.used) as v_dr,
           stddev_samp(x.q_greedy + x.w * (x.r - x.q_placed)) filter (where x.used) as sd_dr
    from slots x
  ),
  est as (
    select 1 as ord, 'ips' as estimator, s.swr / nullif(s.n, 0) as v,
           s.sd_ips / pg_catalog.sqrt(nullif(s.n, 0)::double precision) as se
    from sums s
    union all
    select 2, 'snips', s.swr / nullif(s.sw, 0),
           case when s.n >= 2 then pg_catalog.sqrt(greatest(
             s.sw2r2 - 2 * (s.swr / nullif(s.sw, 0)) * s.sw2r
               + (s.swr / nullif(s.sw, 0)) ^ 2 * s.sw2, 0))
             / nullif(s.sw, 0) end
    from sums s
    union all
    select 3, 'dr', s.v_dr, s.sd_dr / pg_catalog.sqrt(nullif(s.n, 0)::double precision)
    from sums s
  )
  select e.estimator, e.v, e.v - 1.96 * e.se, e.v + 1.96 * e.se, s.n, s.excluded,
         s.sw ^ 2 / nullif(s.sw2, 0), s.wmax, s.sw / nullif(s.n, 0)
  from est e
  cross join sums s
  order by e.ord;
end
$$;
revoke all on function public.policy_ope(text, timestamptz, real) from public;
grant execute on function public.policy_ope(text, timestamptz, real) to service_role;
