-- The SQL the policy-ranker calls: ranker_candidate_scores (feature-store scores with the prior
-- for unknown candidates, the default pool of suggestions then popular candidates, the greedy
-- order), ranker_fallback_slate (the deterministic safe-mode slate) and log_learning_decision
-- (all slots in one statement, gated by learning.enabled, validated field by field).
begin;
select plan(23);

-- Only this file's marketplace: the seed's candidates are hidden for the test.
update public.marketplace_candidates set active = false;
delete from public.candidate_features;
delete from public.learning_events;
insert into public.marketplace_categories (id, slug, name)
values ('c0000000-0000-0000-0000-0000000000aa', 'ranker-test', 'Ranker test');
insert into public.marketplace_interest_map (interest_id, category_id)
values ('11111111-1111-1111-1111-111111111111', 'c0000000-0000-0000-0000-0000000000aa');
insert into public.marketplace_candidates (id, category_id, title, popularity, created_at, active)
values
  ('e0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-0000000000aa', 'm1', 5,
   now() - interval '3 days', true),
  ('e0000000-0000-0000-0000-000000000002', 'c0000000-0000-0000-0000-0000000000aa', 'm2', 1,
   now() - interval '1 day', true),
  ('e0000000-0000-0000-0000-000000000003', 'c0000000-0000-0000-0000-0000000000aa', 'm3', 0,
   now(), true),
  ('e0000000-0000-0000-0000-000000000004', 'c0000000-0000-0000-0000-0000000000aa', 'm4', 9,
   now(), false);

select from tests.create_supabase_user('rank_alice');
select from tests.create_supabase_user('rank_bob');
insert into public.user_interests (user_id, interest_id, affinity)
values (tests.get_supabase_uid('rank_alice'), '11111111-1111-1111-1111-111111111111', 0.8);
insert into public.user_features (user_id, affinities)
values (tests.get_supabase_uid('rank_alice'), '{"11111111-1111-1111-1111-111111111111": 0.9}');

-- m1: rate (1 + 3)/(2 + 4) = 2/3, popularity 2 now (2/3 saturated), seen now (recency 1).
-- post_x: rate 2/3, no popularity, seen a day ago (recency 1/2). post_w, post_z: popular only.
insert into public.candidate_features (candidate_id, impressions, rewards, reward_sum, popularity,
                                       last_seen_at, updated_at)
values ('e0000000-0000-0000-0000-000000000001', 10, 4, 3, 2, now(), now()),
       ('post_x', 5, 1, 1, 0, now() - interval '1 day', now()),
       ('post_w', 5, 0, 0, 3, null, now()),
       ('post_z', 5, 0, 0, 5, null, now() - interval '7 days');

-- ---------------------------------------------------------------------------------------------
-- ranker_candidate_scores
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_service_role();
-- m1: 0.5·2/3 + 0.2·2/3 + 0.1·1 + 0.2·0.9 (alice's hiking affinity); post_x: 0.5·2/3 + 0.1·0.5;
-- post_y has no features: the prior, 0.5·0.5. The duplicate post_x is dropped.
select results_eq(
  $$ select candidate_id, round(score::numeric, 9), round(reward_rate::numeric, 9),
            round(popularity::numeric, 9), recency, affinity, source
       from public.ranker_candidate_scores(
              p_user_id => tests.get_supabase_uid('rank_alice'),
              p_candidate_ids => array['post_x', 'e0000000-0000-0000-0000-000000000001', 'post_y',
                                       'post_x']) $$,
  $$ values ('e0000000-0000-0000-0000-000000000001', 0.746666667, 0.666666667, 0.666666667,
             1::double precision, 0.9::double precision, 'given'),
            ('post_x', 0.383333333, 0.666666667, 0.000000000, 0.5, 0, 'given'),
            ('post_y', 0.250000000, 0.500000000, 0.000000000, 0, 0, 'given') $$,
  'given ids are scored from the feature store, best first; unknown ones get the prior');

select results_eq(
  $$ select candidate_id, source from public.ranker_candidate_scores(
              p_user_id => tests.get_supabase_uid('rank_alice'), p_pool => 3) $$,
  $$ values ('e0000000-0000-0000-0000-000000000001', 'suggestion'),
            ('e0000000-0000-0000-0000-000000000002', 'suggestion'),
            ('e0000000-0000-0000-0000-000000000003', 'suggestion') $$,
  'by default the pool is the user''s marketplace suggestions (inactive ones never)');
-- Bob has no interests: the most popular active candidates. m2 and m3 tie on the prior and are
-- ordered by id.
select results_eq(
  $$ select candidate_id, round(score::numeric, 9), source from public.ranker_candidate_scores(
              p_user_id => tests.get_supabase_uid('rank_bob')) $$,
  $$ values ('e0000000-0000-0000-0000-000000000001', 0.566666667, 'popular'),
            ('e0000000-0000-0000-0000-000000000002', 0.250000000, 'popular'),
            ('e0000000-0000-0000-0000-000000000003', 0.250000000, 'popular') $$,
  'without suggestions the pool is popular active candidates; ties break by id');
select results_eq(
  $$ select candidate_id from public.ranker_candidate_scores(p_pool => 2) $$,
  $$ values ('e0000000-0000-0000-0000-000000000001'), ('e0000000-0000-0000-0000-000000000002') $$,
  'p_pool bounds the default pool (no user: popular only)');

select throws_ok(
  $$ select * from public.ranker_candidate_scores(p_candidate_ids => array['a', '', 'c']) $$,
  '22023', 'p_candidate_ids[1]: must be a non-empty string of at most 200 characters',
  'an empty candidate id is named');
select throws_ok(
  $$ select * from public.ranker_candidate_scores(
       p_candidate_ids => array(select 'c' || g from generate_series(1, 501) g)) $$,
  '22023', 'p_candidate_ids must have at most 500 ids', 'more than 500 candidates is refused');
select throws_ok(
  $$ select * from public.ranker_candidate_scores(p_pool => 0) $$,
  '22023', 'p_pool must be between 1 and 500', 'p_pool 0 is refused');

-- ---------------------------------------------------------------------------------------------
-- ranker_fallback_slate
-- ---------------------------------------------------------------------------------------------
-- popular now: post_w 3, post_z 5 halved by a week = 2.5, m1 2; recent: m3, m2, m1;
-- global: m1, m2, m3. Interleaved popular, recent, global…, each candidate at its first place.
select results_eq(
  $$ select position, candidate_id, source from public.ranker_fallback_slate(p_limit => 5) $$,
  $$ values (0, 'post_w', 'popular'), (1, 'e0000000-0000-0000-0000-000000000003', 'recent'),
            (2, 'e0000000-0000-0000-0000-000000000001', 'global'), (3, 'post_z', 'popular'),
            (4, 'e0000000-0000-0000-0000-000000000002', 'recent') $$,
  'the fallback slate interleaves popular, recent and global candidates, each once');
select set_eq(
  $$ select * from public.ranker_fallback_slate(5) $$,
  $$ select * from public.ranker_fallback_slate(5) $$,
  'the fallback slate is deterministic');
select results_eq(
  $$ select round(score::numeric, 9) from public.ranker_fallback_slate(5) where position = 2 $$,
  $$ values (0.566666667) $$,
  'each fallback slot carries its score without a user (to be logged)');
select throws_ok($$ select * from public.ranker_fallback_slate(0) $$,
                 '22023', 'p_limit must be between 1 and 100', 'p_limit 0 is refused');

-- ---------------------------------------------------------------------------------------------
-- log_learning_decision
-- ---------------------------------------------------------------------------------------------
select is(
  public.log_learning_decision(
    'cccccccc-0000-0000-0000-000000000001', tests.get_supabase_uid('rank_alice'), 'feed',
    'epsilon_greedy_v1',
    '[{"candidate_id": "x", "position": 0, "p_exp": 0.94, "score": 0.7, "explored": false,
       "context": {"k": 3, "greedy": "x", "epsilon": 0.09}},
      {"candidate_id": "z", "position": 1, "p_exp": 0.045, "score": 0.2, "explored": true,
       "context": {"k": 2, "greedy": "y", "epsilon": 0.09}},
      {"candidate_id": "y", "position": 2, "p_exp": 1, "score": 0.5, "explored": false,
       "context": {"k": 1, "greedy": "y", "epsilon": 0.09}}]'),
  3, 'one call logs every slot of the decision');
select results_eq(
  $$ select position, candidate_id, surface, policy, p_exp, score, explored, context ->> 'greedy',
            reward, ts
       from public.learning_events where decision_id = 'cccccccc-0000-0000-0000-000000000001'
      order by position $$,
  $$ values (0, 'x', 'feed', 'epsilon_greedy_v1', 0.94::real, 0.7::real, false, 'x', null::real, now()),
            (1, 'z', 'feed', 'epsilon_greedy_v1', 0.045::real, 0.2::real, true, 'y', null, now()),
            (2, 'y', 'feed', 'epsilon_greedy_v1', 1::real, 0.5::real, false, 'y', null, now()) $$,
  'each slot row carries its candidate, propensity, score, exploration flag and context');

select throws_ok(
  $$ select public.log_learning_decision('cccccccc-0000-0000-0000-000000000001',
       tests.get_supabase_uid('rank_alice'), 'feed', 'v1',
       '[{"candidate_id": "x", "position": 0, "p_exp": 1, "score": 0, "explored": false,
          "context": {"k": 1, "greedy": "x", "epsilon": 0}}]') $$,
  '23505', null, 'a decision is logged once');
select throws_ok(
  $$ select public.log_learning_decision(gen_random_uuid(), null, 'feed', 'v1',
       '[{"candidate_id": "x", "position": 0, "p_exp": 1, "score": 0, "explored": false,
          "context": {"k": 1, "greedy": "x", "epsilon": 0}},
         {"candidate_id": "y", "position": 1, "p_exp": 1.2, "score": 0, "explored": false,
          "context": {"k": 1, "greedy": "y", "epsilon": 0}}]') $$,
  '22023', 'p_slots[1].p_exp: must be a number from 0 to 1', 'a bad slot field is named');
select throws_ok(
  $$ select public.log_learning_decision(gen_random_uuid(), null, 'feed', 'v1',
       '[{"candidate_id": "x", "position": 0, "p_exp": 1, "score": 0, "explored": false,
          "context": {"k": 1, "epsilon": 0}}]') $$,
  '22023', 'p_slots[0].context.greedy: must be a non-empty string',
  'the context keys offline evaluation needs are required');
select throws_ok(
  $$ select public.log_learning_decision(gen_random_uuid(), null, 'feed', 'v1',
       '[{"candidate_id": "x", "position": 0, "p_exp": 1, "score": 0, "explored": false,
          "context": {"k": 1, "greedy": "x", "epsilon": 0}},
         {"candidate_id": "x", "position": 1, "p_exp": 1, "score": 0, "explored": false,
          "context": {"k": 1, "greedy": "x", "epsilon": 0}}]') $$,
  '22023', 'p_slots: each candidate_id may appear once', 'a candidate is placed once per decision');
select throws_ok(
  $$ select public.log_learning_decision(gen_random_uuid(), null, 'feed', 'v1',
       '[{"candidate_id": "x", "position": 1, "p_exp": 1, "score": 0, "explored": false,
          "context": {"k": 1, "greedy": "x", "epsilon": 0}}]') $$,
  '22023', 'p_slots: positions must be 0 to n-1, each once', 'slots are numbered from 0');
select throws_ok(
  $$ select public.log_learning_decision(gen_random_uuid(), null, 'feed', 'v1', '[]') $$,
  '22023', 'p_slots must be a JSON array of 1 to 100 slots', 'an empty slate is refused');
select throws_ok(
  $$ select public.log_learning_decision(null, null, 'feed', 'v1', '[]') $$,
  '22023', 'p_decision_id must not be null', 'the decision id is required');
select throws_ok(
  $$ select public.log_learning_decision(gen_random_uuid(), null, '', 'v1', '[]') $$,
  '22023', 'p_surface must be a non-empty string of at most 100 characters',
  'the surface is required');

-- learning.enabled off for the user (here: a 0 % rollout): nothing is logged.
select tests.clear_authentication();
update public.feature_flags set value = '{"enabled": true, "percentage": 0}'
 where key = 'learning.enabled';
select tests.authenticate_as_service_role();
select is(
  public.log_learning_decision(
    'cccccccc-0000-0000-0000-000000000002', tests.get_supabase_uid('rank_alice'), 'feed', 'v1',
    '[{"candidate_id": "x", "position": 0, "p_exp": 1, "score": 0, "explored": false,
       "context": {"k": 1, "greedy": "x", "epsilon": 0}}]'),
  0, 'with learning.enabled off for the user, nothing is logged (0 rows)');
select is((select count(*)::int from public.learning_events
            where decision_id = 'cccccccc-0000-0000-0000-000000000002'), 0,
          'and no row was written');
select tests.clear_authentication();

select * from finish();
rollback;
