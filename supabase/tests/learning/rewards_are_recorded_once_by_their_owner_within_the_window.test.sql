-- record_learning_reward: a user rewards their own slot once, within the window, with a finite
-- value in the surface's range; every other case has its own SQLSTATE (400/404/409/410), and
-- another user's decision is indistinguishable from a missing one.
begin;
select plan(22);

delete from public.learning_events;
select from tests.create_supabase_user('reward_alice');
select from tests.create_supabase_user('reward_bob');

-- Slots, written as the policy-ranker does (service side).
select tests.authenticate_as_service_role();
select from public.log_learning_decision(
  'aaaaaaaa-0000-0000-0000-000000000001', tests.get_supabase_uid('reward_alice'), 'feed',
  'epsilon_greedy_v1',
  '[{"candidate_id": "p1", "position": 0, "p_exp": 0.96, "score": 0.9, "explored": false,
     "context": {"k": 2, "greedy": "p1", "epsilon": 0.08}},
    {"candidate_id": "p2", "position": 1, "p_exp": 1, "score": 0.5, "explored": false,
     "context": {"k": 1, "greedy": "p2", "epsilon": 0.08}}]');
select tests.clear_authentication();
-- Older slots (the owner backdates them): just inside and just past the default 24 h window,
-- and one on a surface with its own range and window.
insert into public.learning_events (ts, decision_id, user_id, surface, candidate_id, position,
                                    policy, p_exp, score, explored, context)
values
  (now() - interval '23 hours 59 minutes', 'aaaaaaaa-0000-0000-0000-000000000002',
   tests.get_supabase_uid('reward_alice'), 'feed', 'p1', 0, 'epsilon_greedy_v1', 1, 0.5, false,
   '{"k": 1, "greedy": "p1", "epsilon": 0.08}'),
  (now() - interval '25 hours', 'aaaaaaaa-0000-0000-0000-000000000003',
   tests.get_supabase_uid('reward_alice'), 'feed', 'p1', 0, 'epsilon_greedy_v1', 1, 0.5, false,
   '{"k": 1, "greedy": "p1", "epsilon": 0.08}'),
  (now() - interval '3 days', 'aaaaaaaa-0000-0000-0000-000000000004',
   tests.get_supabase_uid('reward_alice'), 'stars', 'p1', 0, 'epsilon_greedy_v1', 1, 0.5, false,
   '{"k": 1, "greedy": "p1", "epsilon": 0.08}');
-- Ratings of 0-5 stars, accepted for a week.
insert into ops.learning_surfaces (surface, reward_min, reward_max, reward_window)
values ('stars', 0, 5, interval '7 days');

select tests.authenticate_as('reward_alice');
select results_eq(
  $$ select decision_id, candidate_id, reward, rewarded_at
       from public.record_learning_reward(p_decision_id => 'aaaaaaaa-0000-0000-0000-000000000001',
                                          p_candidate_id => 'p1', p_reward => 0.75) $$,
  $$ values ('aaaaaaaa-0000-0000-0000-000000000001'::uuid, 'p1', 0.75::real, now()) $$,
  'the owner rewards their slot and gets it back with rewarded_at');
select results_eq(
  $$ select reward, rewarded_at from public.learning_events
      where decision_id = 'aaaaaaaa-0000-0000-0000-000000000001' order by position $$,
  $$ values (0.75::real, now()), (null, null) $$,
  'only that slot of the decision is rewarded');

select throws_ok(
  $$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000001', 'p1', 1) $$,
  '23505', 'a reward is already recorded for decision aaaaaaaa-0000-0000-0000-000000000001 candidate p1',
  'a second reward for the same slot is 23505 (409)');
select throws_ok(
  $$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000003', 'p1', 1) $$,
  'PT410', 'the reward window of 24:00:00 for this decision has closed',
  'past the window is PT410 (410)');
select lives_ok(
  $$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000002', 'p1', -1) $$,
  'just inside the window, the bottom of the range is accepted');

-- Bad values: 22023 (400).
select throws_ok($$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000001', 'p2', 1.01) $$,
                 '22023', 'p_reward must be between -1 and 1', 'above the default range');
select throws_ok($$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000001', 'p2', -1.5) $$,
                 '22023', 'p_reward must be between -1 and 1', 'below the default range');
select throws_ok($$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000001', 'p2', 'NaN') $$,
                 '22023', 'p_reward must be a finite number', 'NaN');
select throws_ok($$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000001', 'p2', '-Infinity') $$,
                 '22023', 'p_reward must be a finite number', '-Infinity');
select throws_ok($$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000001', 'p2', null) $$,
                 '22023', 'p_reward must be a finite number', 'a null reward');
select throws_ok($$ select * from public.record_learning_reward(null, 'p2', 1) $$,
                 '22023', 'p_decision_id must not be null', 'a null decision id');
select throws_ok($$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000001', ' ', 1) $$,
                 '22023', 'p_candidate_id must be a non-empty string', 'a blank candidate id');
select throws_ok($$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000001', 'nope', 1) $$,
                 'P0002', 'decision aaaaaaaa-0000-0000-0000-000000000001 has no candidate nope for this user',
                 'a candidate the decision did not place is 404');

-- The surface's own range and window.
select lives_ok(
  $$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000004', 'p1', 4) $$,
  'a surface with its own config: 4 stars, 3 days later, is accepted');

-- Bob: Alice's decision looks exactly like one that does not exist.
select tests.authenticate_as('reward_bob');
select throws_ok(
  $$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000001', 'p2', 1) $$,
  'P0002', 'decision aaaaaaaa-0000-0000-0000-000000000001 has no candidate p2 for this user',
  'another user''s decision is 404');
select throws_ok(
  $$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-00000000ffff', 'p2', 1) $$,
  'P0002', 'decision aaaaaaaa-0000-0000-0000-00000000ffff has no candidate p2 for this user',
  'a decision that does not exist is the same 404');
select is((select count(*)::int from public.learning_events), 0,
          'and bob cannot read alice''s slots either');

select tests.authenticate_as_anon();
select throws_ok(
  $$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000001', 'p2', 1) $$,
  '42501', 'permission denied for function record_learning_reward', 'anon cannot record rewards');

-- A server-side caller with no user (a webhook) may reward any slot.
select tests.authenticate_as_service_role();
select lives_ok(
  $$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000001', 'p2', 0) $$,
  'service_role rewards a user''s slot');
select tests.clear_authentication();

select results_eq(
  $$ select candidate_id, reward_delta, count_delta, positive_delta
       from ops.learning_reward_log order by id $$,
  $$ values ('p1', 0.75::double precision, 1, 0.75::double precision),
            ('p1', -1, 1, 0), ('p1', 4, 1, 4), ('p2', 0, 1, 0) $$,
  'each recorded reward left one delta for the feature store');

select results_eq(
  $$ select actor, action, target from public.ai_action_ledger order by id desc limit 1 $$,
  $$ values ('postgres', 'learning.learning_surfaces.insert', 'ops.learning_surfaces:stars') $$,
  'the surface config change was ledgered');

-- The surface's range is enforced too.
select throws_ok(
  $$ select * from public.record_learning_reward('aaaaaaaa-0000-0000-0000-000000000004', 'p1', 6) $$,
  '22023', 'p_reward must be between 0 and 5', 'outside the surface''s own range');

select * from finish();
rollback;
