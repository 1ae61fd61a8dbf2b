-- ops.hydrate_features: counts each slot's impression once (from the watermark on), each reward
-- once whenever it arrives (from the reward-delta log), recomputes the features of the users it
-- touched, honours p_max_events, and never double counts when runs overlap or writers are in
-- flight (proved with a second session through dblink).
begin;
select plan(24);

-- A known start: empty log, store and delta log; the watermark at 0.
delete from public.learning_events;
delete from public.candidate_features;
delete from public.user_features;
delete from ops.learning_reward_log;
update ops.learning_hydrate_state set event_watermark = 0;

select from tests.create_supabase_user('hydr_alice');
select from tests.create_supabase_user('hydr_bob');
-- Alice: hiking 0.6 and photography 0.2 declared; two hiking clicks and a cooking save in the
-- last 30 days, and an old photography hide that is past the affinity window.
insert into public.user_interests (user_id, interest_id, affinity) values
  (tests.get_supabase_uid('hydr_alice'), '11111111-1111-1111-1111-111111111111', 0.6),
  (tests.get_supabase_uid('hydr_alice'), '22222222-2222-2222-2222-222222222222', 0.2);
insert into public.intent_signals (user_id, interest_id, signal, weight, created_at) values
  (tests.get_supabase_uid('hydr_alice'), '11111111-1111-1111-1111-111111111111', 'click', 1,
   now() - interval '2 days'),
  (tests.get_supabase_uid('hydr_alice'), '11111111-1111-1111-1111-111111111111', 'click', 1,
   now() - interval '1 day'),
  (tests.get_supabase_uid('hydr_alice'), '33333333-3333-3333-3333-333333333333', 'save', 0.5,
   now() - interval '1 hour'),
  (tests.get_supabase_uid('hydr_alice'), '22222222-2222-2222-2222-222222222222', 'hide', -3,
   now() - interval '40 days');

-- Alice's decision (a, b) through the logging function; Bob's slot with its reward already
-- known, hand-written by the owner.
select from public.log_learning_decision(
  'bbbbbbbb-0000-0000-0000-000000000001', tests.get_supabase_uid('hydr_alice'), 'feed', 'v1',
  '[{"candidate_id": "a", "position": 0, "p_exp": 0.9, "score": 0.6, "explored": false,
     "context": {"k": 2, "greedy": "a", "epsilon": 0.2}},
    {"candidate_id": "b", "position": 1, "p_exp": 1, "score": 0.5, "explored": false,
     "context": {"k": 1, "greedy": "b", "epsilon": 0.2}}]');
insert into public.learning_events (decision_id, user_id, surface, candidate_id, position, policy,
                                    p_exp, reward)
values ('bbbbbbbb-0000-0000-0000-000000000002', tests.get_supabase_uid('hydr_bob'), 'feed', 'a', 0,
        'v1', 1, 1);

-- ---------------------------------------------------------------------------------------------
-- First pass: everything new is counted
-- ---------------------------------------------------------------------------------------------
select results_eq(
  $$ select events_read, candidates_updated, users_updated, watermark
       from ops.hydrate_features() $$,
  $$ select 3::bigint, 2, 2, max(id) from public.learning_events $$,
  'the first pass reads the three slots, updates a and b, and both users');
-- a: 2 impressions, 1 reward of 1 → rate (1 + 1)/(2 + 1); popularity 1. b: the prior 0.5.
select results_eq(
  $$ select candidate_id, impressions, rewards, reward_sum, reward_rate, popularity, last_seen_at
       from public.candidate_features order by candidate_id $$,
  $$ values ('a', 2::bigint, 1::bigint, 1::double precision, 2::double precision / 3,
             1::double precision, now()),
            ('b', 1, 0, 0, 0.5, 0, now()) $$,
  'candidate features: impressions, rewards, Beta(1,1) reward rate, popularity, last seen');
-- hiking 0.6 + 0.25·tanh(2); photography 0.2 (its signal is 40 days old); cooking 0.25·tanh(0.5).
select ok((select abs((affinities ->> '11111111-1111-1111-1111-111111111111')::float8 - 0.8410068950189542) < 1e-6
              and abs((affinities ->> '22222222-2222-2222-2222-222222222222')::float8 - 0.2) < 1e-6
              and abs((affinities ->> '33333333-3333-3333-3333-333333333333')::float8 - 0.11552928931500243) < 1e-6
              and (select count(*) from jsonb_object_keys(affinities)) = 3
             from public.user_features where user_id = tests.get_supabase_uid('hydr_alice')),
          'user affinities: declared affinity moved by 0.25·tanh(30-day signal weight)');
select results_eq(
  $$ select jsonb_path_query_array(recent_signals, '$[*].signal')
       from public.user_features where user_id = tests.get_supabase_uid('hydr_alice') $$,
  $$ values ('["save", "click", "click", "hide"]'::jsonb) $$,
  'recent_signals lists the user''s signals newest first');
select results_eq(
  $$ select affinities, recent_signals from public.user_features
      where user_id = tests.get_supabase_uid('hydr_bob') $$,
  $$ values ('{}'::jsonb, '[]'::jsonb) $$,
  'a user with no interests or signals gets empty features');
select is((select count(*)::int from ops.learning_reward_log), 0,
          'the reward delta was consumed');

-- ---------------------------------------------------------------------------------------------
-- Incremental: a second pass finds nothing and changes nothing
-- ---------------------------------------------------------------------------------------------
create temp table before_second on commit drop as select * from public.candidate_features;
select results_eq(
  $$ select events_read, candidates_updated, users_updated from ops.hydrate_features() $$,
  $$ values (0::bigint, 0, 0) $$,
  'a second pass reads nothing');
select set_eq($$ select * from public.candidate_features $$, $$ select * from before_second $$,
              'and counts nothing twice');

-- ---------------------------------------------------------------------------------------------
-- Late rewards: after the watermark has passed their slot
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('hydr_alice');
select from public.record_learning_reward('bbbbbbbb-0000-0000-0000-000000000001', 'b', -0.5);
select tests.clear_authentication();
select results_eq(
  $$ select events_read, candidates_updated, users_updated from ops.hydrate_features() $$,
  $$ values (0::bigint, 1, 1) $$,
  'a late reward is picked up without re-reading any slot (b, and alice''s features)');
select results_eq(
  $$ select impressions, rewards, reward_sum, reward_rate, popularity
       from public.candidate_features where candidate_id = 'b' $$,
  $$ values (1::bigint, 1::bigint, -0.5::double precision, 0.5::double precision / 3,
             0::double precision) $$,
  'b: one impression still, one reward of −0.5 → rate (1 − 0.5)/(2 + 1); no popularity from it');

-- The owner corrects Bob's reward from 1 to 0: the delta (−1, count 0) is applied once.
update public.learning_events set reward = 0 where decision_id = 'bbbbbbbb-0000-0000-0000-000000000002';
select from ops.hydrate_features();
select from ops.hydrate_features();
select results_eq(
  $$ select impressions, rewards, reward_sum, reward_rate, popularity
       from public.candidate_features where candidate_id = 'a' $$,
  $$ values (2::bigint, 1::bigint, 0::double precision, 1::double precision / 3,
             0::double precision) $$,
  'a corrected reward changes the sum, not the count, and takes its popularity back, once');

-- ---------------------------------------------------------------------------------------------
-- p_max_events bounds a pass; reward deltas wait for their slot's impression
-- ---------------------------------------------------------------------------------------------
insert into public.learning_events (candidate_id, policy, p_exp)
select 'm' || g, 'v1', 1 from generate_series(1, 5) g;
select results_eq(
  $$ select events_read, watermark from ops.hydrate_features(p_max_events => 2) $$,
  $$ select 2::bigint, id from public.learning_events where candidate_id = 'm2' $$,
  'p_max_events = 2 reads two slots and stops the watermark after the second');
select results_eq(
  $$ select events_read, watermark from ops.hydrate_features(p_max_events => 2) $$,
  $$ select 2::bigint, id from public.learning_events where candidate_id = 'm4' $$,
  'the next pass continues where it stopped');
select results_eq(
  $$ select events_read, watermark from ops.hydrate_features(p_max_events => 2) $$,
  $$ select 1::bigint, max(id) from public.learning_events $$,
  'and the last one reads the rest');
select is((select sum(impressions)::int from public.candidate_features where candidate_id like 'm%'), 5,
          'each of the five slots was counted exactly once');

insert into public.learning_events (candidate_id, policy, p_exp, reward)
values ('w1', 'v1', 1, null), ('w2', 'v1', 1, 1);
select from ops.hydrate_features(p_max_events => 1);
select results_eq(
  $$ select (select count(*)::int from ops.learning_reward_log where candidate_id = 'w2'),
            (select count(*)::int from public.candidate_features where candidate_id = 'w2') $$,
  $$ values (1, 0) $$,
  'a reward of a slot past the new watermark waits in the log (rewards never run ahead of impressions)');
select from ops.hydrate_features();
select results_eq(
  $$ select impressions, rewards from public.candidate_features where candidate_id = 'w2' $$,
  $$ values (1::bigint, 1::bigint) $$,
  'and is applied with its impression on the next pass');

-- ---------------------------------------------------------------------------------------------
-- Concurrency, with a second session (dblink; the extension is dropped with the rollback)
-- ---------------------------------------------------------------------------------------------
create extension if not exists dblink with schema extensions;
select from extensions.dblink_connect('hydrate_b', format('host=%s port=%s dbname=%s user=%s',
  split_part(current_setting('unix_socket_directories'), ',', 1), current_setting('port'),
  current_database(), current_user));
select from extensions.dblink_exec('hydrate_b', 'set lock_timeout = ''300ms''');

-- This transaction's passes hold the state row until it ends: an overlapping run waits for it
-- (and would then start from the watermark this one commits) instead of reading the same ids.
select throws_ok(
  $$ select * from extensions.dblink('hydrate_b',
       'select events_read from ops.hydrate_features()') as t(events_read bigint) $$,
  '55P03', null, 'an overlapping run waits for the running one (here: until its lock_timeout)');

-- A writer with an uncommitted slot holds an id the watermark must not pass: the hydrate waits
-- for it (2 s at most, then 55P03 and nothing changed) rather than skip it.
select from extensions.dblink_exec('hydrate_b', 'begin');
select from extensions.dblink_exec('hydrate_b',
  'insert into public.learning_events (candidate_id, policy) values (''in-flight'', ''v1'')');
select throws_ok(
  $$ select * from ops.hydrate_features() $$,
  '55P03', 'learning_events writers did not finish within 2 s; try again',
  'the hydrate does not move past a slot another transaction is still writing');
select from extensions.dblink_exec('hydrate_b', 'rollback');

-- Under REPEATABLE READ the bound would be read from a snapshot older than the wait: refused.
select from extensions.dblink_exec('hydrate_b', 'begin isolation level repeatable read');
select throws_ok(
  $$ select * from extensions.dblink('hydrate_b',
       'select events_read from ops.hydrate_features()') as t(events_read bigint) $$,
  '25000', 'ops.hydrate_features must run at READ COMMITTED isolation',
  'the hydrate refuses to run at another isolation level');
select from extensions.dblink_exec('hydrate_b', 'rollback');
select from extensions.dblink_disconnect('hydrate_b');
select lives_ok($$ select * from ops.hydrate_features() $$,
                'once the writer has finished, the hydrate runs');

-- ---------------------------------------------------------------------------------------------
-- Arguments, isolation, deleted users
-- ---------------------------------------------------------------------------------------------
select throws_ok($$ select * from ops.hydrate_features(0) $$,
                 '22023', 'p_max_events must be between 1 and 1000000', 'p_max_events 0 is refused');
select throws_ok($$ select * from ops.hydrate_features(null) $$,
                 '22023', 'p_max_events must be between 1 and 1000000', 'p_max_events null is refused');

delete from auth.users where id = tests.get_supabase_uid('hydr_alice');
select results_eq(
  $$ select (select count(*)::int from public.learning_events e
              where e.decision_id = 'bbbbbbbb-0000-0000-0000-000000000001'),
            (select count(*)::int from public.user_features f
              where f.affinities ? '11111111-1111-1111-1111-111111111111') $$,
  $$ values (0, 0) $$,
  'deleting a user deletes their slots and features');

select * from finish();
rollback;
