-- rate_limits: a user reads only their own counters, nobody writes except through
-- check_rate_limit, and the daily job deletes finished windows.
begin;
select plan(10);

-- Start from an empty table (rolled back at the end), whatever earlier runs left behind.
delete from public.rate_limits;

select tests.create_supabase_user('rl_alice');
select tests.create_supabase_user('rl_bob');

insert into public.rate_limits (subject, bucket, window_start, count) values
  (tests.get_supabase_uid('rl_alice')::text, 'api', date_trunc('minute', now()), 2),
  (tests.get_supabase_uid('rl_bob')::text, 'api', date_trunc('minute', now()), 5),
  ('ip:203.0.113.9', 'api', date_trunc('minute', now()), 1),
  ('old-subject', 'api', now() - interval '25 hours', 9),
  ('recent-subject', 'api', now() - interval '23 hours', 9);

select tests.authenticate_as('rl_alice');
select results_eq(
  $$ select subject, count from public.rate_limits $$,
  $$ values (tests.get_supabase_uid('rl_alice')::text, 2) $$,
  'a user sees only rows whose subject is their own id'
);
select throws_ok(
  $$ update public.rate_limits set count = 0 $$,
  '42501', 'permission denied for table rate_limits', 'a user cannot reset their counter');
select throws_ok(
  $$ insert into public.rate_limits (subject, bucket, window_start) values (auth.uid()::text, 'api', now()) $$,
  '42501', 'permission denied for table rate_limits', 'a user cannot insert counters');
select throws_ok(
  $$ select * from public.check_rate_limit(auth.uid()::text, 'api', 10, 60) $$,
  '42501', 'permission denied for function check_rate_limit',
  'a user cannot call check_rate_limit (it would let them spend others'' budgets)');

select tests.authenticate_as_anon();
select throws_ok(
  $$ select count(*) from public.rate_limits $$,
  '42501', 'permission denied for table rate_limits', 'anon cannot read counters');

select tests.authenticate_as_service_role();
select is((select count(*) from public.rate_limits), 5::bigint,
          'service_role reads every counter');
select throws_ok(
  $$ delete from public.rate_limits $$,
  '42501', 'permission denied for table rate_limits',
  'service_role writes only through check_rate_limit');
select tests.clear_authentication();

-- The job is scheduled daily; the test stack keeps jobs inactive, so run its command here.
select results_eq(
  $$ select schedule, command from cron.job where jobname = 'rate-limits-gc' $$,
  $$ values ('17 3 * * *', 'select ops.gc_rate_limits()') $$,
  'the rate-limits-gc job runs ops.gc_rate_limits() daily at 03:17'
);
do $$ begin
  execute (select command from cron.job where jobname = 'rate-limits-gc');
end $$;
select results_eq(
  $$ select subject from public.rate_limits order by subject $$,
  $$ select unnest(array[tests.get_supabase_uid('rl_alice')::text,
                         tests.get_supabase_uid('rl_bob')::text,
                         'ip:203.0.113.9', 'recent-subject']) order by 1 $$,
  'the job deleted only windows that started more than a day ago'
);
select is(ops.gc_rate_limits(), 0::bigint, 'running it again deletes nothing');

select * from finish();
rollback;
