-- Nobody but the table owner updates or deletes ledger rows; API roles cannot even insert
-- directly (public.record_ai_action is the way in for other parts of the system).
begin;
select plan(14);

select public.record_ai_action('test.action', 'some-target', '{"a": 1}', '{"a": 2}', 'because');

select tests.authenticate_as_service_role();
select results_eq(
  $$ select actor, action, target, before, after, reason from public.ai_action_ledger
     where action = 'test.action' $$,
  $$ values ('postgres', 'test.action', 'some-target', '{"a": 1}'::jsonb, '{"a": 2}'::jsonb,
             'because') $$,
  'service_role reads the ledger; record_ai_action fills actor and keeps the rest'
);
select throws_ok(
  $$ update public.ai_action_ledger set actor = 'someone else' $$,
  '42501', 'permission denied for table ai_action_ledger',
  'service_role cannot update ledger rows'
);
select throws_ok(
  $$ delete from public.ai_action_ledger $$,
  '42501', 'permission denied for table ai_action_ledger',
  'service_role cannot delete ledger rows'
);
select throws_ok(
  $$ insert into public.ai_action_ledger (actor, action) values ('forged', 'x') $$,
  '42501', 'permission denied for table ai_action_ledger',
  'service_role cannot insert ledger rows directly'
);
select throws_ok(
  $$ truncate public.ai_action_ledger $$,
  '42501', 'permission denied for table ai_action_ledger',
  'service_role cannot truncate the ledger'
);
select lives_ok(
  $$ select public.record_ai_action('worker.requeue', 'events_queue:1', null, null, null,
                                    '{"batch": 3}') $$,
  'service_role appends through record_ai_action'
);
select results_eq(
  $$ select actor, context ->> 'batch', context ->> 'role' from public.ai_action_ledger
     where action = 'worker.requeue' $$,
  $$ values ('service_role', '3', 'service_role') $$,
  'record_ai_action attributes the caller and merges the given context'
);
select throws_ok(
  $$ select public.record_ai_action('  ') $$,
  '22023', 'p_action is required',
  'record_ai_action needs an action'
);

select tests.create_supabase_user('mallory');
select tests.authenticate_as('mallory');
select throws_ok(
  $$ select count(*) from public.ai_action_ledger $$,
  '42501', 'permission denied for table ai_action_ledger',
  'a signed-in user cannot read the ledger'
);
select tests.clear_authentication();

-- Second lock: even a role granted UPDATE/DELETE (and a policy) by mistake is stopped by the
-- trigger.
create role ledger_test_intruder;
grant usage on schema extensions to ledger_test_intruder;
grant select, update, delete on public.ai_action_ledger to ledger_test_intruder;
create policy ledger_test_intruder_all on public.ai_action_ledger
  for all to ledger_test_intruder using (true);
set local role ledger_test_intruder;
select throws_ok(
  $$ update public.ai_action_ledger set reason = 'rewritten' $$,
  '42501', 'ai_action_ledger is append-only: update is not allowed',
  'a wrongly granted UPDATE is still refused'
);
select throws_ok(
  $$ delete from public.ai_action_ledger $$,
  '42501', 'ai_action_ledger is append-only: delete is not allowed',
  'a wrongly granted DELETE is still refused'
);
reset role;

-- The owner (postgres) may prune deliberately.
select lives_ok(
  $$ delete from public.ai_action_ledger where action = 'worker.requeue' $$,
  'the table owner can delete ledger rows'
);

select ok(
  not has_table_privilege('anon', 'public.ai_action_ledger', 'SELECT')
    and not has_table_privilege('authenticated', 'public.ai_action_ledger', 'SELECT')
    and not has_table_privilege('service_role', 'public.ai_action_ledger', 'INSERT')
    and not has_table_privilege('service_role', 'public.ai_action_ledger', 'UPDATE')
    and not has_table_privilege('service_role', 'public.ai_action_ledger', 'DELETE'),
  'privileges: only service_role SELECT among the API roles'
);
select ok(
  has_function_privilege('service_role', 'public.record_ai_action(text, text, jsonb, jsonb, text, jsonb)', 'EXECUTE')
    and not has_function_privilege('authenticated', 'public.record_ai_action(text, text, jsonb, jsonb, text, jsonb)', 'EXECUTE')
    and not has_function_privilege('anon', 'public.record_ai_action(text, text, jsonb, jsonb, text, jsonb)', 'EXECUTE'),
  'only service_role may execute record_ai_action'
);

select * from finish();
rollback;
