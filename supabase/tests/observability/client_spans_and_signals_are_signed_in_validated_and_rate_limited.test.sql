-- public.record_kernel_span and public.record_client_signal: signed-in users only, arguments
-- validated (22023 naming the parameter, nothing spent), the caller's id stamped on the row,
-- and a per-user budget per window that answers PT429 (HTTP 429 through PostgREST).
begin;
select plan(22);

select from tests.create_supabase_user('alice');
select from tests.create_supabase_user('bob');
-- Small budgets so the test reaches them.
update ops.observability_settings set client_span_limit = 3, client_signal_limit = 2;

-- Who may call.
select ok(has_function_privilege('authenticated', 'public.record_kernel_span(text, real, boolean)', 'EXECUTE')
          and not has_function_privilege('anon', 'public.record_kernel_span(text, real, boolean)', 'EXECUTE')
          and not has_function_privilege('service_role', 'public.record_kernel_span(text, real, boolean)', 'EXECUTE'),
          'record_kernel_span is for signed-in users only');
select ok(has_function_privilege('authenticated', 'public.record_client_signal(text, boolean)', 'EXECUTE')
          and not has_function_privilege('anon', 'public.record_client_signal(text, boolean)', 'EXECUTE')
          and not has_function_privilege('service_role', 'public.record_client_signal(text, boolean)', 'EXECUTE'),
          'record_client_signal is for signed-in users only');
select throws_ok($$ select public.record_kernel_span('auth.login', 120, true) $$, '42501',
                 'a signed-in user is required', 'a caller without a user is refused');

select tests.authenticate_as('alice');

-- Validation, before any budget is spent.
select throws_ok($$ select public.record_kernel_span('Auth Login', 120, true) $$, '22023',
                 'p_path must be a dotted lowercase client path such as auth.login (at most 100 characters, not rpc.*)',
                 'a path that is not a dotted lowercase client path is refused');
select throws_ok($$ select public.record_kernel_span('queue-worker', 120, true) $$, '22023', null,
                 'a bare function name is not a client path');
select throws_ok($$ select public.record_kernel_span('rpc.enqueue_event', 120, false) $$, '22023',
                 null, 'clients cannot report rpc.* paths, which only the gateway records');
select throws_ok($$ select public.record_kernel_span('auth.' || repeat('x', 100), 1, true) $$,
                 '22023', null, 'a path over 100 characters is refused');
select throws_ok($$ select public.record_kernel_span('auth.login', -5, true) $$, '22023',
                 'p_duration_ms must be a number from 0 to 3600000', 'a negative duration is refused');
select throws_ok($$ select public.record_kernel_span('auth.login', 'NaN', true) $$, '22023',
                 'p_duration_ms must be a number from 0 to 3600000', 'NaN is refused');
select throws_ok($$ select public.record_kernel_span('auth.login', 5, null) $$, '22023',
                 'p_ok must be true or false', 'ok is required');
select throws_ok($$ select public.record_client_signal('email.sent', true) $$, '22023',
                 'p_name must be one of: auth.registration, deeplink.auth_callback, email.delivery',
                 'an unknown signal name is refused with the list of known ones');

-- Within the budget: rows stamped with the caller.
select lives_ok($$ select public.record_kernel_span('auth.login', 420, true) $$,
                'a valid span is recorded');
select lives_ok($$ select public.record_kernel_span('auth.signup', 900, false);
                   select public.record_kernel_span('auth.login', 1, false) $$,
                'up to the budget (3 per window)');
select throws_ok($$ select public.record_kernel_span('auth.login', 1, true) $$, 'PT429', null,
                 'the call past the budget is refused with PT429');
select lives_ok($$ select public.record_client_signal('email.delivery', true);
                   select public.record_client_signal('deeplink.auth_callback', false) $$,
                'signals have their own budget');
select throws_ok($$ select public.record_client_signal('auth.registration', true) $$, 'PT429', null,
                 'and it runs out on its own');

-- Another user has a budget of their own.
select tests.authenticate_as('bob');
select lives_ok($$ select public.record_kernel_span('auth.login', 10, true) $$,
                'the budget is per user');

select tests.clear_authentication();
select results_eq(
  $$ select path, duration_ms, ok, user_id, at = now() from public.kernel_spans order by id $$,
  $$ values ('auth.login', 420::real, true, tests.get_supabase_uid('alice'), true),
            ('auth.signup', 900::real, false, tests.get_supabase_uid('alice'), true),
            ('auth.login', 1::real, false, tests.get_supabase_uid('alice'), true),
            ('auth.login', 10::real, true, tests.get_supabase_uid('bob'), true) $$,
  'client spans carry the caller''s id; refused calls wrote nothing');
select results_eq(
  $$ select name, ok, user_id from public.kernel_signals order by id $$,
  $$ values ('email.delivery', true, tests.get_supabase_uid('alice')),
            ('deeplink.auth_callback', false, tests.get_supabase_uid('alice')) $$,
  'signals carry the caller''s id');
select ok((select count(*) = 2 from ops.kernel_span_minutes where path in ('auth.login', 'auth.signup')),
          'client spans are rolled up like any other');

-- A user cannot read spans or signals, their own included.
select tests.authenticate_as('alice');
select throws_ok($$ select count(*) from public.kernel_spans $$, '42501', null,
                 'users cannot read kernel_spans');
select throws_ok($$ select count(*) from public.kernel_signals $$, '42501', null,
                 'users cannot read kernel_signals');

select * from finish();
rollback;
