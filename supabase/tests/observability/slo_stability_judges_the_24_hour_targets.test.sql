-- vw_slo_stability: the 24-hour stability targets (registration success > 95 %, email delivery
-- > 90 %, deep links > 98 %, RPC error rate < 2 %, RPC average < 500 ms) against the last day of
-- client signals and RPC spans; no events means no verdict.
begin;
select plan(3);

insert into public.kernel_signals (at, name, ok)
select now() - interval '20 hours', 'auth.registration', g > 4 from generate_series(1, 100) g
union all
select now() - interval '2 hours', 'email.delivery', g > 2 from generate_series(1, 10) g
union all
select now() - interval '25 hours', 'deeplink.auth_callback', false;  -- outside the day
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - interval '3 hours', 'rpc.list_posts', 300, g > 3 from generate_series(1, 100) g
union all
select now() - interval '3 hours', 'health', 5000, false;              -- not an RPC

select results_eq(
  $$ select slo, path_pattern, period, events, round(success_rate::numeric, 4), avg_ms, objective,
            target_avg_ms, meets_target
       from public.vw_slo_stability $$,
  $$ values
     ('stability.deeplink_success', 'deeplink.auth_callback', interval '24 hours', 0::bigint, null::numeric, null::double precision, 0.98::double precision, null::real, null::boolean),
     ('stability.email_delivery', 'email.delivery', '24 hours', 10, 0.8, null, 0.9, null, false),
     ('stability.registration_success', 'auth.registration', '24 hours', 100, 0.96, null, 0.95, null, true),
     ('stability.rpc_error_rate', 'rpc.*', '24 hours', 100, 0.97, 300, 0.98, null, false),
     ('stability.rpc_response_time', 'rpc.*', '24 hours', 100, 0.97, 300, null, 500, true) $$,
  'each stability target against the last 24 hours');

select tests.authenticate_as_service_role();
select lives_ok($$ select * from public.vw_slo_stability $$, 'service_role reads vw_slo_stability');
select tests.clear_authentication();
select ok(not has_table_privilege('authenticated', 'public.vw_slo_stability', 'SELECT')
          and not has_table_privilege('anon', 'public.vw_slo_stability', 'SELECT'),
          'clients cannot');

select * from finish();
rollback;
