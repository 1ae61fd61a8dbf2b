-- policy_ope on a fixture small enough to compute by hand (docs/learning.md has the formulas):
-- IPS, SNIPS and DR values with their 95 % normal-approximation intervals, ESS and the weight
-- diagnostics, to 1e-6; which rows count (rewarded, this policy, since p_since, p_exp > 0); the
-- argument checks.
begin;
select plan(12);

delete from public.learning_events;
delete from public.candidate_features;

-- q̂ from the feature store: a → (1 + 2)/(2 + 3) = 0.6, b → (1 + 0)/(2 + 1) = 1/3; c and d have
-- no features and get the prior mean 0.5.
insert into public.candidate_features (candidate_id, impressions, rewards, reward_sum)
values ('a', 10, 3, 2), ('b', 10, 1, 0);

-- Weights w = min(π/p_exp, 10), π = 1 when the placed candidate is the greedy one. p_exp is a
-- real, so 0.8 is 0.800000011920929 and so on; the expected values below use those.
insert into public.learning_events (ts, policy, candidate_id, p_exp, explored, reward, context)
values
  -- 1. greedy placed: w = 1/0.8 = 1.25, r = 1
  (now() - interval '10 minutes', 'ope_v1', 'a', 0.8, false, 1,
   '{"k": 4, "greedy": "a", "epsilon": 0.2}'),
  -- 2. explored (greedy was a): π = 0, w = 0, r = 1
  (now() - interval '10 minutes', 'ope_v1', 'b', 0.05, true, 1,
   '{"k": 4, "greedy": "a", "epsilon": 0.2}'),
  -- 3. greedy placed: w = 1/0.85 = 1.17647…, r = 0
  (now() - interval '10 minutes', 'ope_v1', 'b', 0.85, false, 0,
   '{"k": 3, "greedy": "b", "epsilon": 0.2}'),
  -- 4. greedy placed with p_exp 0.08: 1/0.08 = 12.5 is clipped to 10, r = 0.5
  (now() - interval '10 minutes', 'ope_v1', 'c', 0.08, false, 0.5,
   '{"k": 2, "greedy": "c", "epsilon": 0.08}'),
  -- 5. no context (hand-written): not explored, so it was the greedy one: w = 1/0.5 = 2, r = 0.2
  (now() - interval '10 minutes', 'ope_v1', 'd', 0.5, false, 0.2, '{}'),
  -- Excluded and counted: safe mode, p_exp 0.
  (now() - interval '10 minutes', 'ope_v1', 'a', 0, false, 1,
   '{"k": 3, "greedy": "a", "epsilon": 0}'),
  -- Not counted: no reward yet; another policy; before p_since.
  (now() - interval '10 minutes', 'ope_v1', 'a', 0.9, false, null,
   '{"k": 4, "greedy": "a", "epsilon": 0.2}'),
  (now() - interval '10 minutes', 'other_v1', 'a', 0.9, false, 1,
   '{"k": 4, "greedy": "a", "epsilon": 0.2}'),
  (now() - interval '2 hours', 'ope_v1', 'a', 0.9, false, 1,
   '{"k": 4, "greedy": "a", "epsilon": 0.2}');

create temp table ope on commit drop as
select * from public.policy_ope('ope_v1', now() - interval '1 hour');

select results_eq(
  $$ select estimator, n, n_excluded_zero_propensity from ope $$,
  $$ values ('ips', 5::bigint, 1::bigint), ('snips', 5::bigint, 1::bigint),
            ('dr', 5::bigint, 1::bigint) $$,
  'one row per estimator, in order; 5 rewarded slots used, the p_exp = 0 one excluded and counted');

-- IPS = Σw·r/n = (1.25 + 0 + 0 + 5 + 0.4)/5; CI from the sample sd of w·r.
select ok((select abs(value - 1.3299999974668026) < 1e-6
              and abs(ci_low - (-0.5231071873562865)) < 1e-6
              and abs(ci_high - 3.1831071822898918) < 1e-6 from ope where estimator = 'ips'),
          'ips value and 95 % interval match the hand computation');
-- SNIPS = Σw·r/Σw = 6.65/14.4264…; CI by the delta method √(Σw²(r − V)²)/Σw.
select ok((select abs(value - 0.46095820668391874) < 1e-6
              and abs(ci_low - 0.3138180441413643) < 1e-6
              and abs(ci_high - 0.6080983692264732) < 1e-6 from ope where estimator = 'snips'),
          'snips value and delta-method interval match the hand computation');
-- DR = mean(q̂(greedy) + w·(r − q̂(placed))): 0.6 + 1.25·0.4, 0.6, 1/3 − 1.17647/3, 0.5,
-- 0.5 + 2·(0.2 − 0.5).
select ok((select abs(value - 0.4082352960195646) < 1e-6
              and abs(ci_low - (-0.03007344903341619)) < 1e-6
              and abs(ci_high - 0.8465440410725453) < 1e-6 from ope where estimator = 'dr'),
          'dr value and 95 % interval match the hand computation (q̂ from candidate_features, prior when missing)');
select ok((select bool_and(abs(ess - 1.9460467689542813) < 1e-6
                           and abs(max_weight - 10) < 1e-6
                           and abs(mean_weight - 2.8852941073219465) < 1e-6) from ope),
          'ess = (Σw)²/Σw², max_weight (the clip) and mean_weight are the same on every row');

-- Clipping: with p_clip 20 the fourth weight is 12.5, so the max weight is 12.4999997 (p_exp is
-- a real) and IPS moves accordingly.
select ok((select abs(max_weight - 1 / 0.08::real::double precision) < 1e-6
                  and abs(value - (1.25 + 0.5 / 0.08::real::double precision + 0.4) / 5) < 1e-5
             from public.policy_ope('ope_v1', now() - interval '1 hour', p_clip => 20)
            where estimator = 'ips'),
          'p_clip bounds the weights (12.5 unclipped at p_clip 20)');

-- No qualifying slot: counts are 0 and values null, not an error.
select results_eq(
  $$ select estimator, value, n, n_excluded_zero_propensity, ess
       from public.policy_ope('nobody_v1', now() - interval '1 hour') $$,
  $$ values ('ips', null::double precision, 0::bigint, 0::bigint, null::double precision),
            ('snips', null, 0, 0, null), ('dr', null, 0, 0, null) $$,
  'a policy with no rewarded slots gives n = 0 and null estimates');

select throws_ok($$ select * from public.policy_ope(null, now()) $$,
                 '22023', 'p_policy must not be null', 'p_policy is required');
select throws_ok($$ select * from public.policy_ope('ope_v1', null) $$,
                 '22023', 'p_since must not be null', 'p_since is required');
select throws_ok($$ select * from public.policy_ope('ope_v1', now(), 0.5) $$,
                 '22023', 'p_clip must be a finite number >= 1', 'p_clip below 1 is refused');
select throws_ok($$ select * from public.policy_ope('ope_v1', now(), 'NaN') $$,
                 '22023', 'p_clip must be a finite number >= 1', 'p_clip NaN is refused');
select throws_ok($$ select * from public.policy_ope('ope_v1', now(), 'Infinity') $$,
                 '22023', 'p_clip must be a finite number >= 1', 'p_clip Infinity is refused');

select * from finish();
rollback;
