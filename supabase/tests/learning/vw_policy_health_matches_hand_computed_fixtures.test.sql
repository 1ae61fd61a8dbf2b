-- vw_policy_health on fixtures computed by hand: per policy over the last 24 h, decisions
-- (first slots), events, exploration vs ε(K−1)/K, epsilon (logged, else the ranker.policy flag),
-- rewards, and the propensity diagnostics; safe-mode slots and rows without context.
begin;
select plan(6);

delete from public.learning_events;
-- The flag's epsilon is the fallback for slots that did not log one.
update public.feature_flags set value = '{"version": "epsilon_greedy_v1", "epsilon": 0.1}'
 where key = 'ranker.policy';

-- health_a_v1, ε = 0.3:
--   decision 1, K = 3, 2, 1: greedy (p = 1 − 0.3 + 0.3/3 = 0.8, reward 1), explored (p = 0.3/2
--     = 0.15, reward 0), the last one forced (p = 1)
--   decision 2, K = 2, 1: greedy (p = 1 − 0.3 + 0.15 = 0.85), forced (p = 1)
--   decision 3, safe mode: ε = 0, p_exp = 0, reward 0.5 on its first slot
--   a slot 25 hours old, outside the window
insert into public.learning_events (ts, decision_id, candidate_id, position, policy, p_exp,
                                    explored, reward, context)
values
  (now() - interval '1 hour', '00000000-0000-0000-0000-00000000d001', 'a', 0, 'health_a_v1', 0.8,
   false, 1, '{"k": 3, "greedy": "a", "epsilon": 0.3}'),
  (now() - interval '1 hour', '00000000-0000-0000-0000-00000000d001', 'c', 1, 'health_a_v1', 0.15,
   true, 0, '{"k": 2, "greedy": "b", "epsilon": 0.3}'),
  (now() - interval '1 hour', '00000000-0000-0000-0000-00000000d001', 'b', 2, 'health_a_v1', 1,
   false, null, '{"k": 1, "greedy": "b", "epsilon": 0.3}'),
  (now() - interval '2 hours', '00000000-0000-0000-0000-00000000d002', 'a', 0, 'health_a_v1', 0.85,
   false, null, '{"k": 2, "greedy": "a", "epsilon": 0.3}'),
  (now() - interval '2 hours', '00000000-0000-0000-0000-00000000d002', 'b', 1, 'health_a_v1', 1,
   false, null, '{"k": 1, "greedy": "b", "epsilon": 0.3}'),
  (now(), '00000000-0000-0000-0000-00000000d003', 'a', 0, 'health_a_v1', 0,
   false, 0.5, '{"k": 2, "greedy": "a", "epsilon": 0}'),
  (now(), '00000000-0000-0000-0000-00000000d003', 'b', 1, 'health_a_v1', 0,
   false, null, '{"k": 1, "greedy": "b", "epsilon": 0}'),
  (now() - interval '25 hours', '00000000-0000-0000-0000-00000000d004', 'a', 0, 'health_a_v1', 0.5,
   true, 1, '{"k": 2, "greedy": "b", "epsilon": 0.3}');

-- health_b_v1: one hand-written row, no decision, no position, no context: ε from the flag (0.1),
-- K unknown (expected rate = ε), explored, so not the greedy one (weight 0).
insert into public.learning_events (policy, candidate_id, p_exp, explored)
values ('health_b_v1', 'x', 0.5, true);

select results_eq(
  $$ select policy, decisions, events, rewarded from public.vw_policy_health order by policy $$,
  $$ values ('health_a_v1', 3::bigint, 7::bigint, 3::bigint),
            ('health_b_v1', 1::bigint, 1::bigint, 0::bigint) $$,
  'decisions count first slots (and rows without a position), events every slot in the last 24 h');

-- exploration 1/7; epsilon (5·0.3 + 2·0)/7; expected (0.3·2/3 + 0.3·1/2 + 0 + 0.3·1/2 + 0 + 0 + 0)/7.
select ok((select abs(exploration_rate - 1.0 / 7) < 1e-9
              and abs(epsilon - 1.5 / 7) < 1e-9
              and abs(expected_exploration_rate - 0.5 / 7) < 1e-9
             from public.vw_policy_health where policy = 'health_a_v1'),
          'exploration_rate, epsilon and expected_exploration_rate = mean of ε(K−1)/K per slot');

-- Rewards 1, 0, 0.5; min positive p_exp 0.15; weights 1/0.8, 0 (explored), 1, 1/0.85, 1 over the
-- five slots with p_exp > 0 (safe-mode slots are left out).
select ok((select abs(avg_reward - 0.5) < 1e-9
              and min_p_exp = 0.15::real
              and abs(mean_importance_weight - 0.8852941073219466) < 1e-6
             from public.vw_policy_health where policy = 'health_a_v1'),
          'avg_reward, min_p_exp and mean_importance_weight (greedy target, unclipped)');

select ok((select exploration_rate = 1 and abs(epsilon - 0.1) < 1e-9
              and abs(expected_exploration_rate - 0.1) < 1e-9 and avg_reward is null
              and min_p_exp = 0.5::real and mean_importance_weight = 0
             from public.vw_policy_health where policy = 'health_b_v1'),
          'a row without context takes epsilon from the ranker.policy flag and ε as its expected rate');

select ok((select bool_and(window_end = now() and window_start = now() - interval '24 hours')
             from public.vw_policy_health),
          'the window is the last 24 hours up to now()');

select columns_are('public', 'vw_policy_health',
  array['policy', 'decisions', 'events', 'exploration_rate', 'epsilon',
        'expected_exploration_rate', 'avg_reward', 'rewarded', 'min_p_exp',
        'mean_importance_weight', 'window_start', 'window_end'],
  'vw_policy_health has the contract''s columns');

select * from finish();
rollback;
