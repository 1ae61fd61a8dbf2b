-- Who may do what with the learning objects: RLS on every table; a user reads only their own
-- learning_events rows and writes none; the feature store, settings, health view and the
-- service-side functions are service_role's; anon has nothing; users may only record rewards.
begin;
select plan(23);

-- ---------------------------------------------------------------------------------------------
-- RLS is on, with policies where a role reads through them
-- ---------------------------------------------------------------------------------------------
select is(
  array(select format('%I.%I', n.nspname, c.relname) collate "default"
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where format('%I.%I', n.nspname, c.relname) = any (array[
                 'public.learning_events', 'public.candidate_features', 'public.user_features',
                 'ops.learning_settings', 'ops.learning_surfaces', 'ops.learning_reward_log',
                 'ops.learning_hydrate_state'])
           and c.relrowsecurity
         order by 1),
  array['ops.learning_hydrate_state', 'ops.learning_reward_log', 'ops.learning_settings',
        'ops.learning_surfaces', 'public.candidate_features', 'public.learning_events',
        'public.user_features'],
  'row level security is enabled on every learning table');
select policies_are('public', 'learning_events',
                    array['learning_events_read_own', 'learning_events_service_all'],
                    'learning_events: users read their own rows, service_role all');

-- ---------------------------------------------------------------------------------------------
-- Table and view privileges per role
-- ---------------------------------------------------------------------------------------------
select table_privs_are('public', 'learning_events', 'anon', '{}', 'anon: nothing on learning_events');
select table_privs_are('public', 'learning_events', 'authenticated', array['SELECT'],
                       'authenticated: select (own rows) on learning_events, no writes');
select table_privs_are('public', 'learning_events', 'service_role',
                       array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
                       'service_role: reads and writes learning_events');
select is(
  array(select format('%s:%s', t, r) from unnest(array['public.candidate_features',
          'public.user_features', 'public.vw_policy_health', 'ops.learning_settings',
          'ops.learning_surfaces', 'ops.learning_reward_log', 'ops.learning_hydrate_state',
          'ops.learning_slot_eval', 'ops.candidate_features_now']) t
        cross join unnest(array['anon', 'authenticated']) r
        where has_any_column_privilege(r, t, 'SELECT') or has_any_column_privilege(r, t, 'INSERT')
           or has_any_column_privilege(r, t, 'UPDATE') or has_table_privilege(r, t, 'DELETE')),
  '{}'::text[],
  'anon and authenticated have no privilege on the feature store, the settings or the health view');
select table_privs_are('public', 'candidate_features', 'service_role',
                       array['SELECT', 'INSERT', 'UPDATE', 'DELETE'], 'service_role: candidate_features');
select table_privs_are('public', 'user_features', 'service_role',
                       array['SELECT', 'INSERT', 'UPDATE', 'DELETE'], 'service_role: user_features');
select table_privs_are('public', 'vw_policy_health', 'service_role', array['SELECT'],
                       'service_role: reads vw_policy_health');

-- ---------------------------------------------------------------------------------------------
-- Function EXECUTE per role
-- ---------------------------------------------------------------------------------------------
create temp table learning_functions on commit drop as
select p.oid::regprocedure::text collate "default" as fn, p.oid
from pg_proc p join pg_namespace n on n.oid = p.pronamespace
where (n.nspname, p.proname) in (
  ('public', 'log_learning_decision'), ('public', 'record_learning_reward'),
  ('public', 'ranker_candidate_scores'), ('public', 'ranker_fallback_slate'),
  ('public', 'policy_ope'), ('public', 'gc_learning_events'), ('public', 'gc_intent_signals'),
  ('public', 'learning_reward_rate'), ('public', 'learning_popularity_key'), ('ops', 'hydrate_features'), ('ops', 'learning_gc'),
  ('ops', 'learning_writers_lock_key'), ('ops', 'learning_settings_changed'),
  ('ops', 'learning_settings_touch'), ('ops', 'learning_events_reward_changed'),
  ('ops', 'learning_events_writer_lock'), ('ops', 'learning_on_auth_user_deleted'));
select is((select count(*)::int from learning_functions), 17, 'every learning function is listed');

select is(array(select fn from learning_functions where has_function_privilege('anon', oid, 'EXECUTE')
                order by fn), '{}'::text[], 'anon may execute no learning function');
select is(array(select fn from learning_functions
                 where has_function_privilege('authenticated', oid, 'EXECUTE') order by fn),
          array['record_learning_reward(uuid,text,double precision)'],
          'authenticated may only record rewards');
select is(array(select fn from learning_functions
                 where has_function_privilege('service_role', oid, 'EXECUTE') order by fn),
          array['gc_intent_signals()', 'gc_learning_events()',
                'learning_popularity_key(double precision,timestamp with time zone)',
                'learning_reward_rate(double precision,bigint)',
                'log_learning_decision(uuid,uuid,text,text,jsonb)',
                'ops.hydrate_features(integer)', 'ops.learning_gc(text)',
                'ops.learning_writers_lock_key()',
                'policy_ope(text,timestamp with time zone,real)',
                'ranker_candidate_scores(uuid,text[],integer)', 'ranker_fallback_slate(integer)',
                'record_learning_reward(uuid,text,double precision)'],
          'service_role may execute the whole service-side API (trigger functions: nobody)');

-- ---------------------------------------------------------------------------------------------
-- RLS in action: own vs other
-- ---------------------------------------------------------------------------------------------
delete from public.learning_events;
select from tests.create_supabase_user('priv_alice');
select from tests.create_supabase_user('priv_bob');
insert into public.learning_events (user_id, candidate_id, policy) values
  (tests.get_supabase_uid('priv_alice'), 'a1', 'v1'),
  (tests.get_supabase_uid('priv_alice'), 'a2', 'v1'),
  (tests.get_supabase_uid('priv_bob'), 'b1', 'v1');
insert into public.candidate_features (candidate_id) values ('a1');

select tests.authenticate_as('priv_alice');
select results_eq($$ select candidate_id from public.learning_events order by candidate_id $$,
                  $$ values ('a1'), ('a2') $$, 'a user reads only their own slots');
select throws_ok(
  $$ insert into public.learning_events (user_id, candidate_id) values (auth.uid(), 'forged') $$,
  '42501', 'permission denied for table learning_events', 'a user cannot log slots');
select throws_ok($$ update public.learning_events set reward = 1 $$,
                 '42501', 'permission denied for table learning_events',
                 'a user cannot write rewards directly');
select throws_ok($$ delete from public.learning_events $$,
                 '42501', 'permission denied for table learning_events', 'a user cannot delete slots');
select throws_ok($$ select * from public.candidate_features $$,
                 '42501', 'permission denied for table candidate_features',
                 'a user cannot read the feature store');
select throws_ok($$ select * from public.vw_policy_health $$,
                 '42501', 'permission denied for view vw_policy_health',
                 'a user cannot read policy health');

select tests.authenticate_as('priv_bob');
select results_eq($$ select candidate_id from public.learning_events $$, $$ values ('b1') $$,
                  'another user sees only theirs');

select tests.authenticate_as_anon();
select throws_ok($$ select * from public.learning_events $$,
                 '42501', 'permission denied for table learning_events', 'anon reads no slots');

select tests.authenticate_as_service_role();
select is((select count(*)::int from public.learning_events), 3, 'service_role reads every slot');
select lives_ok(
  $$ insert into public.learning_events (user_id, candidate_id) values (null, 'svc');
     update public.candidate_features set impressions = 1 where candidate_id = 'a1';
     select * from public.vw_policy_health $$,
  'service_role writes slots and features and reads the health view');
select tests.clear_authentication();

select * from finish();
rollback;
