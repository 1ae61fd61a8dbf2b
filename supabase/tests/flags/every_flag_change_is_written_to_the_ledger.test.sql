-- Every insert, update and delete of a flag writes a ledger row with actor, before, after and
-- reason, whichever path made it: the SQL console, an ops tool (app.actor), a function as
-- service_role, a signed-in JWT subject, a cron job; and with malformed JWT claims.
begin;
select plan(24);

select tests.create_supabase_user('ops_alice');

-- The latest ledger row, for the assertions below.
create temp view last_entry as
  select actor, action, target, before, after, reason, context
  from public.ai_action_ledger order by id desc limit 1;
grant select on last_entry to service_role;

-- ---------------------------------------------------------------------------------------------
-- The runbook SQL, verbatim, from the console (postgres, no JWT, no app.* settings)
-- ---------------------------------------------------------------------------------------------
SELECT key, value FROM public.feature_flags ORDER BY key;
UPDATE public.feature_flags
SET value = '{"enabled": true}'::jsonb, updated_at = now()
WHERE key = 'global.safe_mode';
SELECT * FROM public.ai_action_ledger ORDER BY timestamp DESC LIMIT 20;

select results_eq(
  $$ select actor, action, target, before, after, reason from last_entry $$,
  $$ values ('postgres', 'feature_flags.update', 'global.safe_mode', '{"enabled": false}'::jsonb,
             '{"enabled": true}'::jsonb, null::text) $$,
  'the runbook UPDATE writes a row: actor current_user, before/after values, no reason'
);
select is(
  (select context ->> 'role' from last_entry), 'postgres',
  'context records the effective role'
);
select is(
  (select updated_by from public.feature_flags where key = 'global.safe_mode'), 'postgres',
  'updated_by is maintained by the trigger'
);
select is(
  (select actor || ' ' || action from public.ai_action_ledger
   order by "timestamp" desc limit 1),
  'postgres feature_flags.update',
  'the runbook query (ORDER BY timestamp DESC) shows the change first'
);

-- ---------------------------------------------------------------------------------------------
-- An ops tool: app.actor and app.reason
-- ---------------------------------------------------------------------------------------------
select set_config('app.actor', 'ops-cli:alice', true), set_config('app.reason', 'INC-42 canary', true);
update public.feature_flags set value = '{"enabled": true, "percentage": 95}'
where key = 'global.safe_mode';
select results_eq(
  $$ select actor, reason, before, after from last_entry $$,
  $$ values ('ops-cli:alice', 'INC-42 canary', '{"enabled": true}'::jsonb,
             '{"enabled": true, "percentage": 95}'::jsonb) $$,
  'app.actor and app.reason are recorded'
);
select set_config('app.actor', '', true), set_config('app.reason', '', true);

-- ---------------------------------------------------------------------------------------------
-- A function acting as service_role (no JWT subject)
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_service_role();
update public.feature_flags set value = '{"enabled": false}' where key = 'learning.enabled';
select results_eq(
  $$ select actor, action, target, before, after from last_entry $$,
  $$ values ('service_role', 'feature_flags.update', 'learning.enabled',
             '{"enabled": true}'::jsonb, '{"enabled": false}'::jsonb) $$,
  'a service_role change is attributed to service_role'
);
select is((select context ->> 'jwt_role' from last_entry), 'service_role',
          'context records the JWT role claim');

-- service_role with an operator's claims (e.g. an admin tool passing the user's sub)
select set_config('request.jwt.claims',
                  json_build_object('role', 'service_role',
                                    'sub', tests.get_supabase_uid('ops_alice'))::text, true);
select set_config('app.actor', 'ignored-when-a-jwt-subject-exists', true);
insert into public.feature_flags (key, value, description)
values ('ops.test_flag', '{"enabled": true}', 'made in a test');
select results_eq(
  $$ select actor, action, target, before, after from last_entry $$,
  $$ values (tests.get_supabase_uid('ops_alice')::text, 'feature_flags.insert', 'ops.test_flag',
             null::jsonb, '{"enabled": true}'::jsonb) $$,
  'the JWT subject wins over app.actor and the role'
);
select is((select context ->> 'description' from last_entry), 'made in a test',
          'an insert keeps the description in the context');

update public.feature_flags set description = 'renamed', key = 'ops.test_flag2'
where key = 'ops.test_flag';
select results_eq(
  $$ select action, target, context ->> 'previous_key', context -> 'description' from last_entry $$,
  $$ values ('feature_flags.update', 'ops.test_flag2', 'ops.test_flag',
             '{"before": "made in a test", "after": "renamed"}'::jsonb) $$,
  'a rename and a description change are recorded'
);

delete from public.feature_flags where key = 'ops.test_flag2';
select results_eq(
  $$ select action, target, before, after from last_entry $$,
  $$ values ('feature_flags.delete', 'ops.test_flag2', '{"enabled": true}'::jsonb, null::jsonb) $$,
  'a delete writes a row with before = the removed value'
);
select set_config('app.actor', '', true);
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- A signed-in user cannot change flags at all
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('ops_alice');
select throws_ok(
  $$ update public.feature_flags set value = '{"enabled": true}' where key = 'crush_mode.enabled' $$,
  '42501', 'permission denied for table feature_flags',
  'authenticated cannot update flags'
);
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- A cron job (pg_cron runs the command as the job's owner with application_name pg_cron)
-- ---------------------------------------------------------------------------------------------
select set_config('application_name', 'pg_cron', true);
update public.feature_flags set value = '{"enabled": true}' where key = 'crush_mode.enabled';
select results_eq(
  $$ select actor, context ->> 'role', context ->> 'application_name' from last_entry $$,
  $$ values ('pg_cron', 'postgres', 'pg_cron') $$,
  'a cron-made change is attributed to pg_cron (not the console''s postgres), role in context'
);
select set_config('app.actor', 'ops:bob', true);
update public.feature_flags set value = '{"enabled": false}' where key = 'crush_mode.enabled';
select is((select actor from last_entry), 'ops:bob',
          'app.actor set by the command still wins over pg_cron');
select set_config('app.actor', '', true);
select set_config('application_name', 'pg_prove', true);

-- ---------------------------------------------------------------------------------------------
-- Malformed request.jwt.claims: flag writes (the kill switch above all) still work
-- ---------------------------------------------------------------------------------------------
select set_config('request.jwt.claims', 'not json', true);
select lives_ok(
  $$ UPDATE public.feature_flags
     SET value = '{"enabled": true}'::jsonb, updated_at = now()
     WHERE key = 'global.safe_mode' $$,
  'the safe-mode UPDATE succeeds with claims that are not JSON'
);
select results_eq(
  $$ select actor, action, target, after, context -> 'jwt_claims_malformed', context ? 'jwt_role'
     from last_entry $$,
  $$ values ('postgres', 'feature_flags.update', 'global.safe_mode', '{"enabled": true}'::jsonb,
             'true'::jsonb, false) $$,
  'and is ledgered as if there were no claims, marked jwt_claims_malformed'
);
select set_config('request.jwt.claims', '["not", "an", "object"]', true);
select set_config('app.actor', 'ops:carol', true);
update public.feature_flags set value = '{"enabled": false}' where key = 'global.safe_mode';
select is((select actor from last_entry), 'ops:carol',
          'claims that are JSON but not an object count as none too (app.actor applies)');
select set_config('app.actor', '', true);
select set_config('request.jwt.claims', '', true);
select is(
  (select value from public.feature_flags where key = 'global.safe_mode'), '{"enabled": false}'::jsonb,
  'both writes took effect'
);

-- ---------------------------------------------------------------------------------------------
-- Statement shapes: multi-row, no-op, truncate
-- ---------------------------------------------------------------------------------------------
create temp table mark as select max(id) as id from public.ai_action_ledger;
update public.feature_flags set updated_at = now()
where key in ('marketplace.suggest', 'learning.enabled');
select is(
  (select count(*) from public.ai_action_ledger where id > (select id from mark)),
  2::bigint,
  'a multi-row update writes one row per flag, even when the value is unchanged'
);
select ok(
  (select bool_and(before = after) from public.ai_action_ledger
   where id > (select id from mark)),
  'an unchanged value shows before = after'
);
select ok(
  (select bool_and(context ->> 'txid' = txid_current()::text) from public.ai_action_ledger
   where id > (select id from mark)),
  'rows of one transaction share its txid'
);

create temporary table flags_before_truncate as select key from public.feature_flags;
truncate public.feature_flags;
select results_eq(
  $$ select action, target, after from last_entry $$,
  $$ values ('feature_flags.truncate', 'feature_flags', null::jsonb) $$,
  'a truncate is recorded'
);
select is(
  (select count(*) from last_entry, jsonb_object_keys(last_entry.before)),
  (select count(*) from flags_before_truncate),
  'with every removed flag in before'
);

select ok(
  (select bool_and("timestamp" is not null and actor <> '') from public.ai_action_ledger),
  'every ledger row has a timestamp and an actor'
);

select * from finish();
rollback;
