-- vw_policy_health reads a per-minute rollup that ops.hydrate_features maintains, plus the raw
-- slots the rollup does not hold yet. Its rows must be those of aggregating every slot of the
-- window (the view's definition, written out below as the reference), before and after hydrate
-- passes: with rewards arriving late, partial passes, slots deleted (a user) and corrected by the
-- owner, the flag's epsilon changed, the watermark moved back, and windows in the past.
begin;
select plan(28);

-- ---------------------------------------------------------------------------------------------
-- The reference and the comparison
-- ---------------------------------------------------------------------------------------------

-- vw_policy_health as first defined: every slot of [p_now − 24 h, p_now], aggregated.
create function pg_temp.reference_health(p_now timestamptz)
returns table (policy text, decisions bigint, events bigint, exploration_rate double precision,
               epsilon double precision, expected_exploration_rate double precision,
               avg_reward double precision, rewarded bigint, min_p_exp real,
               mean_importance_weight double precision, window_start timestamptz,
               window_end timestamptz)
language sql
stable
as $$
  select s.policy,
         count(*) filter (where s.position = 0 or s.position is null or s.decision_id is null),
         count(*),
         avg(coalesce(s.explored, false)::int::double precision),
         avg(s.epsilon),
         avg(case when s.k is null then s.epsilon else s.epsilon * (s.k - 1) / s.k end),
         avg(s.reward::double precision),
         count(s.reward),
         min(s.p_exp) filter (where s.p_exp > 0),
         avg(s.target_prob / s.p_exp) filter (where s.p_exp > 0),
         p_now - interval '24 hours',
         p_now
  from ops.learning_slot_eval s
  where s.ts >= p_now - interval '24 hours' and s.ts <= p_now
  group by s.policy
$$;

-- The rows of two health queries that differ (matched by policy, null included): counts and
-- min_p_exp exactly, means within 1e-12 (the rollup adds the same terms in another order).
create function pg_temp.health_differences(p_expected text, p_actual text)
returns text[]
language plpgsql
as $$
declare
  found text[];
begin
  execute format($q$
    select coalesce(array_agg(format('%%s: expected %%s, got %%s',
                                     coalesce(e.policy, a.policy, '(null)'), e, a)), '{}')
    from (%s) e
    full join (%s) a on coalesce(e.policy, '(null)') = coalesce(a.policy, '(null)')
    where e.events is null or a.events is null
       or (e.decisions, e.events, e.rewarded, e.min_p_exp, e.window_start, e.window_end)
          is distinct from (a.decisions, a.events, a.rewarded, a.min_p_exp, a.window_start,
                            a.window_end)
       or exists (select 1
                    from (values (e.exploration_rate, a.exploration_rate), (e.epsilon, a.epsilon),
                                 (e.expected_exploration_rate, a.expected_exploration_rate),
                                 (e.avg_reward, a.avg_reward),
                                 (e.mean_importance_weight, a.mean_importance_weight)) v(x, y)
                   where (v.x is null) <> (v.y is null)
                      or abs(v.x - v.y) > 1e-12 * greatest(1, abs(v.x)))
    $q$, p_expected, p_actual) into found;
  return found;
end
$$;

-- ---------------------------------------------------------------------------------------------
-- A known start and a fixture spread over the window
-- ---------------------------------------------------------------------------------------------
delete from public.learning_events;
delete from ops.learning_reward_log;
delete from ops.learning_policy_minutes;
delete from ops.learning_policy_minutes_stale;
update ops.learning_hydrate_state set event_watermark = 0;
update public.feature_flags set value = '{"version": "epsilon_greedy_v1", "epsilon": 0.1}'
 where key = 'ranker.policy';
select from tests.create_supabase_user('rollup_u1');
select from tests.create_supabase_user('rollup_u2');

-- One slot every 47 s from the window's first instant on (so minutes are complete in the
-- middle and partial at both ends), over two users and three policies (one null), with safe-mode
-- slots (p_exp 0), slots without context (the flag's ε), with ε only, with k; a third rewarded.
-- Plus a slot a microsecond before the window, the last seconds up to now() and one in the
-- future: none but the last seconds count.
insert into public.learning_events (ts, decision_id, user_id, candidate_id, position, policy,
                                    p_exp, explored, reward, context)
select now() - interval '24 hours' + g * interval '47 seconds',
       md5('rollup-' || g)::uuid,
       tests.get_supabase_uid(case when g % 2 = 0 then 'rollup_u1' else 'rollup_u2' end),
       'c' || (g % 3),
       case when g % 10 = 9 then null else g % 3 end,
       case g % 5 when 0 then null when 1 then 'roll_b' when 2 then 'roll_b' else 'roll_a' end,
       case when g % 13 = 0 then 0 else (g % 19 + 1) / 20.0 end,
       g % 4 = 0,
       case when g % 3 = 0 then (g % 5) / 4.0 - 0.5 end,
       case g % 4 when 0 then '{}'::jsonb
                  when 1 then '{"epsilon": 0.1}'::jsonb
                  when 2 then jsonb_build_object('k', g % 7 + 1, 'greedy', 'c' || (g % 2),
                                                 'epsilon', 0.25)
                  else jsonb_build_object('k', g % 9 + 1) end
from generate_series(0, 1838) g;
insert into public.learning_events (ts, candidate_id, policy, p_exp, explored, reward)
values (now() - interval '24 hours' - interval '1 microsecond', 'early', 'roll_a', 0.5, false, 1),
       (now() - interval '3 seconds', 'late', 'roll_a', 0.25, true, null),
       (now(), 'now', 'roll_b', 0.75, false, 1),
       (now() + interval '30 seconds', 'future', 'roll_a', 0.5, false, 1);

-- ---------------------------------------------------------------------------------------------
-- Nothing hydrated: all raw
-- ---------------------------------------------------------------------------------------------
select is(pg_temp.health_differences('select * from pg_temp.reference_health(now())',
                                     'select * from public.vw_policy_health'),
          '{}', 'before any hydrate pass the view matches the reference (three policies)');
select is((select count(*)::int from public.vw_policy_health), 3, 'one row per policy, null included');

-- ---------------------------------------------------------------------------------------------
-- A hydrate pass: the same view, now from the rollup
-- ---------------------------------------------------------------------------------------------
create temp table before_hydrate as select * from public.vw_policy_health;
select from ops.hydrate_features();
select ok((select count(*) > 1000 from ops.learning_policy_minutes),
          'the pass rolled the slots up into per-minute rows');
-- Complete minutes of the window: from the first whole one to the one holding now(), exclusive.
select is((select sum(m.events)::int from ops.learning_policy_minutes m
            where m.minute >= date_bin('1 minute', now() - interval '24 hours'
                                         + interval '1 minute' - interval '1 microsecond',
                                       '2000-01-01 00:00:00+00')
              and m.minute < date_bin('1 minute', now(), '2000-01-01 00:00:00+00')),
          (select count(*)::int from public.learning_events e
            where e.ts >= date_bin('1 minute', now() - interval '24 hours'
                                     + interval '1 minute' - interval '1 microsecond',
                                   '2000-01-01 00:00:00+00')
              and e.ts < date_bin('1 minute', now(), '2000-01-01 00:00:00+00')),
          'the rollup holds every slot of the window''s complete minutes');
select is(pg_temp.health_differences('select * from before_hydrate',
                                     'select * from public.vw_policy_health'),
          '{}', 'after the pass the view gives the same rows as before it');

-- ---------------------------------------------------------------------------------------------
-- Late rewards: recorded after the pass, applied by the next one
-- ---------------------------------------------------------------------------------------------
select count(*)
from public.learning_events e
cross join lateral public.record_learning_reward(e.decision_id, e.candidate_id, 1) r
where e.reward is null and e.decision_id is not null and e.ts > now() - interval '20 hours'
  and e.id % 4 = 1;
-- The owner corrects some recorded rewards (a delta that changes the sum, not the count).
update public.learning_events set reward = reward + 0.25
 where reward is not null and reward < 0.5 and id % 7 = 0;
select ok((select count(*) > 300 from ops.learning_reward_log),
          'late rewards and corrections wait in the reward-delta log');
select ok((select sum(rewarded) from public.vw_policy_health)
            > (select sum(rewarded) from before_hydrate),
          'the view counts the late rewards before any pass applies them');
select is(pg_temp.health_differences('select * from pg_temp.reference_health(now())',
                                     'select * from public.vw_policy_health'),
          '{}', 'with pending reward deltas the view matches the reference');
create temp table before_second as select * from public.vw_policy_health;
select from ops.hydrate_features();
select is((select count(*)::int from ops.learning_reward_log), 0, 'the next pass consumed them');
select is(pg_temp.health_differences('select * from before_second',
                                     'select * from public.vw_policy_health'),
          '{}', 'and the view gives the same rows as before that pass');

-- ---------------------------------------------------------------------------------------------
-- New slots and partial passes
-- ---------------------------------------------------------------------------------------------
insert into public.learning_events (ts, decision_id, candidate_id, position, policy, p_exp,
                                    explored, reward, context)
select now() - interval '10 minutes' + g * interval '13 seconds', md5('rollup-new-' || g)::uuid,
       'n' || g, 0, 'roll_a', 0.05 * (g % 20 + 1), g % 3 = 0, case when g % 2 = 0 then 1 end,
       '{"k": 4, "greedy": "n0", "epsilon": 0.3}'
from generate_series(0, 39) g;
select is(pg_temp.health_differences('select * from pg_temp.reference_health(now())',
                                     'select * from public.vw_policy_health'),
          '{}', 'slots past the watermark are read raw');
select from ops.hydrate_features(p_max_events => 7);
select from ops.hydrate_features(p_max_events => 11);
select is(pg_temp.health_differences('select * from pg_temp.reference_health(now())',
                                     'select * from public.vw_policy_health'),
          '{}', 'after partial passes (part of the new slots rolled up) the view still matches');

-- ---------------------------------------------------------------------------------------------
-- Slots deleted and corrected after they were rolled up
-- ---------------------------------------------------------------------------------------------
select from ops.hydrate_features();
delete from auth.users where id = tests.get_supabase_uid('rollup_u2');
update public.learning_events set policy = 'roll_c' where id % 11 = 0;
update public.learning_events set ts = ts - interval '90 minutes' where id % 29 = 0;
update public.learning_events set p_exp = 0.5, context = '{"epsilon": 0.4}'
 where id % 31 = 0 and p_exp > 0;
select ok((select count(distinct minute) > 500 from ops.learning_policy_minutes_stale),
          'deleted and corrected slots mark their minutes stale');
select is(pg_temp.health_differences('select * from pg_temp.reference_health(now())',
                                     'select * from public.vw_policy_health'),
          '{}', 'stale minutes are read raw: the view matches the reference');
select from ops.hydrate_features();
select is((select count(*)::int from ops.learning_policy_minutes_stale), 0,
          'the next pass rebuilt the stale minutes');
select is(pg_temp.health_differences('select * from pg_temp.reference_health(now())',
                                     'select * from public.vw_policy_health'),
          '{}', 'after the rebuild the view matches the reference (roll_c included)');

-- ---------------------------------------------------------------------------------------------
-- What the rollup cannot freeze: the flag's ε, the watermark, the window's end
-- ---------------------------------------------------------------------------------------------
update public.feature_flags set value = '{"version": "epsilon_greedy_v1", "epsilon": 0.35}'
 where key = 'ranker.policy';
select is(pg_temp.health_differences('select * from pg_temp.reference_health(now())',
                                     'select * from public.vw_policy_health'),
          '{}', 'slots without a logged ε take the flag''s ε as the view is read');

update ops.learning_hydrate_state set event_watermark = event_watermark - 700;
select is(pg_temp.health_differences('select * from pg_temp.reference_health(now())',
                                     'select * from public.vw_policy_health'),
          '{}', 'a watermark moved back counts nothing twice');
select from ops.hydrate_features();
select is(pg_temp.health_differences('select * from pg_temp.reference_health(now())',
                                     'select * from public.vw_policy_health'),
          '{}', 'and the pass after it neither');

select is(pg_temp.health_differences(
            'select * from pg_temp.reference_health(now() - interval ''6 hours 20 seconds'')',
            'select * from ops.policy_health(now() - interval ''6 hours 20 seconds'')'),
          '{}', 'a window ending in the past reads the rollup and matches');
select is(pg_temp.health_differences(
            'select * from pg_temp.reference_health(now() - interval ''30 hours'')',
            'select * from ops.policy_health(now() - interval ''30 hours'')'),
          '{}', 'a window reaching before the rollup''s horizon reads the rest raw and matches');

-- The runbook's heartbeat (no decision, no position, context {}) once rolled up: still one row
-- with no null column.
INSERT INTO public.learning_events(
  ts, user_id, surface, candidate_id, policy, p_exp, score, explored, reward, context
)
VALUES(
  now() - interval '2 hours', '00000000-0000-0000-0000-000000000001'::uuid, 'feed', 'post_abc',
  'heartbeat_v1', 0.08, 0.42, false, 0.6, '{}'::jsonb
);
select from ops.hydrate_features();
select ok((select count(*) = 1 and bool_and(m.events = 1)
             from ops.learning_policy_minutes m where m.policy = 'heartbeat_v1'),
          'the heartbeat slot is in the rollup');
select ok((select h is not null and h.decisions = 1 and h.rewarded = 1 and h.epsilon = 0.35
             from public.vw_policy_health h where h.policy = 'heartbeat_v1'),
          'read from the rollup, the heartbeat still gives one row with no null column');

-- The comparison can fail: a rollup row that disagrees with its slots shows.
update ops.learning_policy_minutes set events = events + 1
 where minute = (select min(m.minute) from ops.learning_policy_minutes m
                  where m.minute > now() - interval '20 hours' and m.policy = 'roll_a')
   and policy = 'roll_a';
select isnt(pg_temp.health_differences('select * from pg_temp.reference_health(now())',
                                       'select * from public.vw_policy_health'),
            '{}', 'a corrupted rollup row would be caught by these comparisons');

-- ---------------------------------------------------------------------------------------------
-- Plumbing and privileges
-- ---------------------------------------------------------------------------------------------
select ok((select 'jit=off' = any (p.proconfig) from pg_proc p
            where p.oid = 'ops.policy_health(timestamptz)'::regprocedure)
          and pg_get_viewdef('public.vw_policy_health'::regclass) like '%ops.policy_health(now())%',
          'the view reads ops.policy_health, which runs with jit = off');
select is(array(select format('%s:%s', t, r) from unnest(array['ops.learning_policy_minutes',
          'ops.learning_policy_minutes_stale', 'ops.learning_slot_health']) t
        cross join unnest(array['anon', 'authenticated']) r
        where has_any_column_privilege(r, t, 'SELECT') or has_any_column_privilege(r, t, 'INSERT')
           or has_any_column_privilege(r, t, 'UPDATE') or has_table_privilege(r, t, 'DELETE')),
          '{}'::text[], 'anon and authenticated have nothing on the rollup');
select is(array(select p.oid::regprocedure::text from pg_proc p
                 where p.oid in ('ops.policy_health(timestamptz)'::regprocedure,
                                 'ops.learning_events_deleted_mark_stale()'::regprocedure,
                                 'ops.learning_events_updated_mark_stale()'::regprocedure,
                                 'ops.learning_events_truncated()'::regprocedure,
                                 'ops.learning_watermark_moved_back()'::regprocedure)
                   and (has_function_privilege('anon', p.oid, 'EXECUTE')
                        or has_function_privilege('authenticated', p.oid, 'EXECUTE')
                        or (has_function_privilege('service_role', p.oid, 'EXECUTE')
                            <> (p.proname = 'policy_health')))
                 order by 1),
          '{}'::text[], 'service_role alone may execute ops.policy_health; trigger functions: nobody');
select tests.authenticate_as_service_role();
select lives_ok($$ select * from public.vw_policy_health $$,
                'service_role reads the view through the function');
select tests.clear_authentication();

select * from finish();
rollback;
