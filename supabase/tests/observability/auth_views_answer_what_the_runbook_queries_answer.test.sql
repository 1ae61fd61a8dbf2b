-- vw_auth_registrations_daily and vw_auth_failure_rate answer exactly what the monitoring
-- runbook's two queries over auth.users answer (pasted below verbatim), on fixtures and in
-- another time zone; service_role only.
begin;
select plan(8);

-- Users already in the database (seeds) move out of every window, so the fixtures decide.
update auth.users set created_at = created_at - interval '60 days';
insert into auth.users (id, email, created_at, email_confirmed_at, last_sign_in_at)
select gen_random_uuid(), 'auth-metrics-' || n.n || '@example.test', now() - f.age,
       case when f.confirmed then now() - f.age + interval '5 minutes' end,
       case when f.signed_in then now() - f.age + interval '10 minutes' end
from (values (interval '1 hour', true, true),
             (interval '2 hours', false, false),
             (interval '3 hours', true, false),
             (interval '20 hours', true, true),
             (interval '30 hours', true, false),
             (interval '3 days', true, true),
             (interval '3 days 1 hour', false, false),
             (interval '3 days 2 hours', true, true),
             (interval '6 days 23 hours', true, true),
             (interval '8 days', true, true)) f(age, confirmed, signed_in)
     cross join lateral (select md5(f.age::text) as n) n;

select results_eq(
  $$ SELECT * FROM public.vw_auth_registrations_daily $$,
  $$
SELECT 
  DATE(created_at) as date,
  COUNT(*) as total_registrations,
  COUNT(CASE WHEN email_confirmed_at IS NOT NULL THEN 1 END) as confirmed,
  ROUND(COUNT(CASE WHEN email_confirmed_at IS NOT NULL THEN 1 END) * 100.0 / COUNT(*), 2) as confirmation_rate
FROM auth.users 
WHERE created_at >= NOW() - INTERVAL '7 days'
GROUP BY DATE(created_at)
ORDER BY date DESC;
  $$,
  'vw_auth_registrations_daily equals the Registration Success Rate query, row for row');

select set_eq(
  $$ SELECT * FROM public.vw_auth_failure_rate $$,
  $$
SELECT 
  DATE(created_at) as date,
  COUNT(*) as total_attempts,
  COUNT(CASE WHEN last_sign_in_at IS NULL THEN 1 END) as failed_signins,
  ROUND(COUNT(CASE WHEN last_sign_in_at IS NULL THEN 1 END) * 100.0 / COUNT(*), 2) as failure_rate
FROM auth.users 
WHERE created_at >= NOW() - INTERVAL '24 hours'
GROUP BY DATE(created_at);
  $$,
  'vw_auth_failure_rate equals the Authentication Error Rate query (which has no order)');

select is((select sum(total_registrations)::int from public.vw_auth_registrations_daily), 9,
          'the 7-day window holds the nine users younger than 7 days');
select is((select sum(total_attempts)::int || '/' || sum(failed_signins)::int
             from public.vw_auth_failure_rate), '4/2',
          'the 24-hour window holds four users, two of whom never signed in');

-- DATE() follows the session's time zone in both, so they still agree elsewhere.
set local timezone = 'Pacific/Kiritimati';
select results_eq(
  $$ SELECT * FROM public.vw_auth_registrations_daily $$,
  $$ SELECT DATE(created_at) as date, COUNT(*) as total_registrations,
            COUNT(CASE WHEN email_confirmed_at IS NOT NULL THEN 1 END) as confirmed,
            ROUND(COUNT(CASE WHEN email_confirmed_at IS NOT NULL THEN 1 END) * 100.0 / COUNT(*), 2) as confirmation_rate
       FROM auth.users WHERE created_at >= NOW() - INTERVAL '7 days'
      GROUP BY DATE(created_at) ORDER BY date DESC $$,
  'and agree in a time zone 14 hours ahead of UTC');
reset timezone;

-- Who may read them.
select tests.authenticate_as_service_role();
select lives_ok($$ select * from public.vw_auth_registrations_daily; select * from public.vw_auth_failure_rate $$,
                'service_role reads both views without rights on auth.users');
select tests.clear_authentication();
select ok(not has_table_privilege('authenticated', 'public.vw_auth_registrations_daily', 'SELECT')
          and not has_table_privilege('authenticated', 'public.vw_auth_failure_rate', 'SELECT')
          and not has_table_privilege('anon', 'public.vw_auth_registrations_daily', 'SELECT')
          and not has_table_privilege('anon', 'public.vw_auth_failure_rate', 'SELECT'),
          'clients cannot read them');

-- The counts the registration alerts read: the last hour against the 7 days before it.
select results_eq(
  $$ select registrations, round(baseline::numeric, 6) from ops.auth_registration_counts(now(), '1 hour') $$,
  $$ values (0::bigint, round((9 * 3600.0 / (7 * 86400))::numeric, 6)) $$,
  'registration counts: none after the last hour began, nine in the 7 days before: 9/168 per hour');

select * from finish();
rollback;
