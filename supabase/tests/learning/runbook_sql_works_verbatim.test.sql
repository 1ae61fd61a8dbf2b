-- The Day-0 learning runbook (docs/learning.md), every statement verbatim, as the database owner
-- runs it in the SQL editor: the heartbeat insert, the health view with no null column, the log,
-- its RLS policies, the learning flag and both GC functions (and their daily jobs).
begin;
select plan(13);

-- Start from an empty log so the heartbeat is the only row in the window.
delete from public.learning_events;

INSERT INTO public.learning_events(
  user_id, surface, candidate_id, policy, p_exp, score, explored, reward, context
)
VALUES(
  '00000000-0000-0000-0000-000000000001'::uuid, 'feed', 'post_abc', 'epsilon_greedy_v1',
  0.08, 0.42, false, 0.6, '{}'::jsonb
);
select is((select count(*)::int from public.learning_events where candidate_id = 'post_abc'), 1,
          'runbook: the heartbeat insert (no decision_id, no position) is accepted');

select is((select count(*)::int from (SELECT * FROM public.vw_policy_health) h), 1,
          'runbook: vw_policy_health has one row for the policy');
select ok((select h is not null from (SELECT * FROM public.vw_policy_health) h),
          'runbook: with the single heartbeat row every column of vw_policy_health is non-null');
-- The heartbeat has context {}: epsilon comes from the ranker.policy flag (0.08), K is unknown
-- (expected rate ε), it did not explore, so it was the greedy one (weight 1/0.08).
select results_eq(
  $$ select policy, decisions, events, exploration_rate, round(epsilon::numeric, 9),
            round(expected_exploration_rate::numeric, 9), avg_reward, rewarded, min_p_exp,
            round(mean_importance_weight::numeric, 4)
       from public.vw_policy_health $$,
  $$ values ('epsilon_greedy_v1', 1::bigint, 1::bigint, 0::double precision, 0.08::numeric,
             0.08::numeric, 0.6::real::double precision, 1::bigint, 0.08::real, 12.5000::numeric) $$,
  'runbook: the heartbeat''s health figures');

select results_eq(
  $$ SELECT candidate_id, policy, reward FROM (
       SELECT * FROM public.learning_events ORDER BY ts DESC LIMIT 10) latest $$,
  $$ values ('post_abc', 'epsilon_greedy_v1', 0.6::real) $$,
  'runbook: the latest learning_events rows');
select lives_ok($$ SELECT * FROM public.learning_events ORDER BY ts DESC LIMIT 10 $$,
                'runbook: SELECT * … ORDER BY ts DESC LIMIT 10 runs');

select results_eq(
  $$ SELECT format('%s: %s to %s', policyname, cmd, array_to_string(roles, ',')) collate "default"
       FROM (SELECT * FROM pg_policies WHERE schemaname = 'public' AND tablename = 'learning_events') p
      ORDER BY policyname $$,
  $$ values ('learning_events_read_own: SELECT to authenticated'),
            ('learning_events_service_all: ALL to service_role') $$,
  'runbook: learning_events has its policies (users read their own rows; service_role writes)');

select results_eq(
  $$ SELECT key, value FROM public.feature_flags WHERE key = 'learning.enabled' $$,
  $$ values ('learning.enabled', '{"enabled": true}'::jsonb) $$,
  'runbook: learning.enabled is seeded on');

select is((SELECT public.gc_learning_events()), 0::bigint,
          'runbook: gc_learning_events() runs and removes nothing recent');
select is((SELECT public.gc_intent_signals()), 0::bigint,
          'runbook: gc_intent_signals() runs and removes nothing recent');
select is((select count(*)::int from public.learning_events), 1,
          'runbook: the heartbeat row survives GC');

select results_eq(
  $$ select jobname::text collate "default", schedule, command from cron.job
      where jobname in ('learning-events-gc', 'intent-signals-gc') order by schedule $$,
  $$ values ('learning-events-gc', '0 2 * * *', 'select public.gc_learning_events()'),
            ('intent-signals-gc', '0 3 * * *', 'select public.gc_intent_signals()') $$,
  'pg_cron runs the GC functions daily at 02:00 and 03:00');
select results_eq(
  $$ select actor, action, target from public.ai_action_ledger
      where action like 'learning.gc_%' order by id desc limit 2 $$,
  $$ values ('postgres', 'learning.gc_intent_signals', 'public.intent_signals'),
            ('postgres', 'learning.gc_learning_events', 'public.learning_events') $$,
  'each GC call is ledgered (actor: the console''s role)');

select * from finish();
rollback;
