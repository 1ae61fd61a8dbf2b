-- public.check_rate_limit: fixed, epoch-aligned windows; exactly p_limit calls admitted per
-- window; remaining and reset_at; argument errors; refused calls do not write.
begin;
select plan(17);

select tests.authenticate_as_service_role();

select results_eq(
  $$ select allowed, remaining from public.check_rate_limit('subject-a', 'api', 3, 60) $$,
  $$ values (true, 2) $$,
  'the first call is allowed with limit - 1 remaining'
);
select results_eq(
  $$ select allowed, remaining from public.check_rate_limit('subject-a', 'api', 3, 60)
     union all
     select allowed, remaining from public.check_rate_limit('subject-a', 'api', 3, 60) $$,
  $$ values (true, 1), (true, 0) $$,
  'the second and third calls are allowed, counting down'
);
select results_eq(
  $$ select allowed, remaining from public.check_rate_limit('subject-a', 'api', 3, 60) $$,
  $$ values (false, 0) $$,
  'the fourth call in the window is refused'
);
select is(
  (select reset_at from public.check_rate_limit('subject-a', 'api', 3, 60)),
  to_timestamp((floor(extract(epoch from now()) / 60) + 1) * 60),
  'reset_at is the end of the epoch-aligned window'
);
select ok(
  (select reset_at > now() and reset_at <= now() + interval '60 seconds'
   from public.check_rate_limit('subject-a', 'api', 3, 60)),
  'reset_at lies within one window from now'
);
select tests.clear_authentication();
select results_eq(
  $$ select count, window_start from public.rate_limits where subject = 'subject-a' $$,
  $$ values (3, to_timestamp(floor(extract(epoch from now()) / 60) * 60)) $$,
  'one row for the window; refused calls did not add to its count'
);
select tests.authenticate_as_service_role();

select results_eq(
  $$ select allowed, remaining from public.check_rate_limit('subject-b', 'api', 3, 60)
     union all
     select allowed, remaining from public.check_rate_limit('subject-a', 'other', 3, 60) $$,
  $$ values (true, 2), (true, 2) $$,
  'subjects and buckets are counted separately'
);
select results_eq(
  $$ select allowed from public.check_rate_limit('subject-a', 'api', 3, 3600) $$,
  $$ values (true) $$,
  'a different window length is a different window'
);
-- Also when both windows start at the same instant (the first minute of every hour): the length
-- is part of the counter's key, not only of its start.
select col_is_pk(
  'public', 'rate_limits', array['subject', 'bucket', 'window_seconds', 'window_start'],
  'a counter is keyed by subject, bucket, window length and window start'
);
select results_eq(
  $$ select allowed, remaining from public.check_rate_limit('subject-a', 'api', 5, 60) $$,
  $$ values (true, 1) $$,
  'raising the limit admits more in the same window'
);

-- A window that ended is not counted: a full one just before the current window.
select tests.clear_authentication();
insert into public.rate_limits (subject, bucket, window_start, count)
values ('subject-c', 'api', to_timestamp(floor(extract(epoch from now()) / 60) * 60)
                            - interval '60 seconds', 3);
select tests.authenticate_as_service_role();
select results_eq(
  $$ select allowed, remaining from public.check_rate_limit('subject-c', 'api', 3, 60) $$,
  $$ values (true, 2) $$,
  'a full previous window does not limit the current one'
);

select throws_ok($$ select * from public.check_rate_limit('', 'api', 3, 60) $$,
                 '22023', 'p_subject must be a non-empty string', 'an empty subject is refused');
select throws_ok($$ select * from public.check_rate_limit('s', null, 3, 60) $$,
                 '22023', 'p_bucket must be a non-empty string', 'a null bucket is refused');
select throws_ok($$ select * from public.check_rate_limit('s', 'api', 0, 60) $$,
                 '22023', 'p_limit must be at least 1', 'a zero limit is refused');
select throws_ok($$ select * from public.check_rate_limit('s', 'api', 3, 0) $$,
                 '22023', 'p_window_seconds must be between 1 and 86400',
                 'a zero window is refused');
select throws_ok($$ select * from public.check_rate_limit('s', 'api', 3, 86401) $$,
                 '22023', 'p_window_seconds must be between 1 and 86400',
                 'a window longer than the GC horizon is refused');
select tests.clear_authentication();

select is(
  array(select r from unnest(array['anon', 'authenticated', 'service_role']) r
        where has_function_privilege(r, 'public.check_rate_limit(text, text, int, int)',
                                     'EXECUTE')),
  array['service_role'],
  'only service_role may execute check_rate_limit'
);

select * from finish();
rollback;
