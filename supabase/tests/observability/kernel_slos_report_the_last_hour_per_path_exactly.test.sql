-- vw_kernel_slos and the window machinery under it: exact counts for any window and instant
-- (rollups for whole minutes, raw spans for the partial ones), percentiles within one
-- histogram bucket, the targets of the closest objective, and the runbook SQL verbatim.
begin;
select plan(16);

-- Fixtures, written as the owner (as the gateway's and functions' writer would, minus the
-- validation): auth.login 90 fast and 10 slow requests (5 failed), health 10 identical ones,
-- rpc.slow 10 slow RPCs, and spans at the edges of the hour.
insert into public.kernel_spans (at, path, status, duration_ms, ok)
select now() - g * interval '30 seconds', 'auth.login', 200, 100, true
from generate_series(1, 90) g;
insert into public.kernel_spans (at, path, status, duration_ms, ok)
select now() - g * interval '5 minutes', 'auth.login', case when g <= 5 then 500 else 200 end,
       900, g > 5
from generate_series(1, 10) g;
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - g * interval '1 minute', 'health', 40, true from generate_series(0, 9) g;
insert into public.kernel_spans (at, path, duration_ms, ok)
values (now() - interval '2 hours', 'health', 5000, false);
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - g * interval '2 minutes', 'rpc.slow', 600, true from generate_series(1, 10) g;
insert into public.kernel_spans (at, path, duration_ms, ok) values
  (now() - interval '1 hour', 'edges', 1, true),                            -- just outside
  (now() - interval '1 hour' + interval '1 millisecond', 'edges', 1, true), -- just inside
  (now() - interval '59 minutes', 'edges', 1, true),
  (now(), 'edges', 1, true),                                                 -- the end is in
  (now() + interval '1 second', 'edges', 1, true);                           -- the future is not

select results_eq(
  $$ select path, requests, error_rate, avg_ms, target_p95_ms, meets_target
       from public.vw_kernel_slos $$,
  $$ values ('auth.login', 100::bigint, 0.05::double precision, 180::double precision,
             600::real, false),
            ('edges', 3, 0, 1, null, true),
            ('health', 10, 0, 40, null, true),
            ('rpc.slow', 10, 0, 600, null, false) $$,
  'one row per path of the last hour: requests, error rate, average, p95 target, verdict');

select is((select array[p50_ms, p95_ms, p99_ms] from public.vw_kernel_slos where path = 'health'),
          array[40, 40, 40]::double precision[],
          'a path whose spans all took the same time reads exactly that at every percentile');
select ok((select p50_ms between 100 and 100 * 1.0443 from public.vw_kernel_slos
            where path = 'auth.login'),
          'auth.login p50 is within one bucket (4.4 %) above 100 ms');
select ok((select p95_ms between 900 / 1.0443 and 900 and p99_ms between 900 / 1.0443 and 900
             from public.vw_kernel_slos where path = 'auth.login'),
          'auth.login p95 and p99 are within one bucket below 900 ms (the slow tenth)');
select is((select meets_target from public.vw_kernel_slos where path = 'auth.login'), false,
          'auth.login misses its 600 ms p95 target');
select is((select meets_target from public.vw_kernel_slos where path = 'rpc.slow'), false,
          'an RPC averaging 600 ms misses the 500 ms RPC average target');

-- Any instant, not only now: half a minute ago the newest span was in the future.
select is((select requests from ops.kernel_slos(now() - interval '30 seconds')
            where path = 'edges'), 3::bigint,
          'the window follows p_now: (p_now - 1 h, p_now]');

-- An error rate over the availability objective fails the verdict.
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - interval '3 minutes', 'health', 40, false from generate_series(1, 1);
select is((select row(requests, meets_target) from public.vw_kernel_slos where path = 'health'),
          row(11::bigint, false),
          'one failure in 11 (9 %) breaks the 99.5 % objective even though latency is fine');

-- Exactness of the window totals and histograms against the raw spans, for random spans
-- spread over four hours and every window length the views use.
select setseed(0.42);
insert into public.kernel_spans (at, path, status, duration_ms, ok)
select now() - random() * interval '4 hours',
       (array['random.a', 'random.b', 'random.c'])[1 + (g % 3)],
       case when random() < 0.1 then 500 when random() < 0.5 then 200 end,
       (random() * 2000)::real, random() > 0.1
from generate_series(1, 2000) g;

select results_eq(
  $$ select t.span_window, t.path, t.requests, t.errors, t.statused, t.server_errors,
            round(t.sum_ms::numeric, 2), t.min_ms, t.max_ms
       from ops.kernel_span_totals(now() - interval '7 seconds',
              array[interval '5 minutes', interval '30 minutes', interval '1 hour',
                    interval '6 hours', interval '3 days']) t
      where t.path like 'random.%'
      order by 1, 2 $$,
  $$ select w.len, k.path, count(*), count(*) filter (where not k.ok), count(k.status),
            count(*) filter (where k.status >= 500),
            round(sum(k.duration_ms::double precision)::numeric, 2), min(k.duration_ms),
            max(k.duration_ms)
       from unnest(array[interval '5 minutes', interval '30 minutes', interval '1 hour',
                         interval '6 hours', interval '3 days']) w(len)
       join public.kernel_spans k
         on k.at > now() - interval '7 seconds' - w.len and k.at <= now() - interval '7 seconds'
      where k.path like 'random.%'
      group by 1, 2 order by 1, 2 $$,
  'window totals equal a count over the raw spans for every window length');
select results_eq(
  $$ select h.path, h.bucket, h.requests
       from ops.kernel_span_histogram(now() - interval '7 seconds', interval '1 hour') h
      where h.path like 'random.%' order by 1, 2 $$,
  $$ select k.path, ops.latency_bucket(k.duration_ms), count(*)
       from public.kernel_spans k
      where k.at > now() - interval '7 seconds' - interval '1 hour'
        and k.at <= now() - interval '7 seconds' and k.path like 'random.%'
      group by 1, 2 order by 1, 2 $$,
  'the window histogram equals the raw spans bucketed');
select ok(
  (select bool_and(abs(s.p95_ms - x.exact) <= 0.0443 * x.exact)
     from ops.kernel_slos(now()) s
     join (select k.path, percentile_disc(0.95) within group (order by k.duration_ms) as exact
             from public.kernel_spans k
            where k.at > now() - interval '1 hour' and k.at <= now()
              and k.path like 'random.%'
            group by k.path) x on x.path = s.path),
  'p95 read off the histogram is within one bucket of the exact 95th percentile');

-- Buckets.
select is(ops.latency_bucket(0.05), 0::smallint, 'bucket 0 holds durations under 0.1 ms');
select ok(ops.latency_bucket_lower(ops.latency_bucket(600)) <= 600
            and 600 < ops.latency_bucket_upper(ops.latency_bucket(600))
            and ops.latency_bucket_upper(ops.latency_bucket(600))
                / ops.latency_bucket_lower(ops.latency_bucket(600)) < 1.0443,
          'a duration lies inside its bucket, which is 4.4 % wide');

-- The runbook statement, verbatim, and who may run it.
select lives_ok($$ SELECT * FROM public.vw_kernel_slos; $$, 'runbook: SELECT * FROM public.vw_kernel_slos runs');
select tests.authenticate_as_service_role();
select is((select count(*)::int from public.vw_kernel_slos), 7, 'service_role reads vw_kernel_slos');
select tests.clear_authentication();
select ok(not has_table_privilege('authenticated', 'public.vw_kernel_slos', 'SELECT')
          and not has_table_privilege('anon', 'public.vw_kernel_slos', 'SELECT'),
          'clients cannot read vw_kernel_slos');

select * from finish();
rollback;
