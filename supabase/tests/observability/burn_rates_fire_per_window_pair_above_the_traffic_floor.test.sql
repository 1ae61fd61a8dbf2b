-- vw_slo_burnrate: one row per path and workbook window pair (1h/5m at 14.4, 6h/30m at 6,
-- 3d/6h at 1); burn = error ratio ÷ (1 − the closest availability objective); a pair fires only
-- when both windows burn above its threshold and the long window has the objective's minimum
-- request count. Fixtures with hand-computed answers.
begin;
select plan(9);

-- queue-worker (objective 99.5 %, budget 0.005, floor 50), spans by age:
--   2 min: 20 (4 failed)   40 min: 80 (6 failed)   3 h: 100 ok   2 days: 800 ok
-- windows:  5m and 30m: 4/20 = 0.2 → 40      1h: 10/100 = 0.1 → 20
--           6h: 10/200 = 0.05 → 10           3d: 10/1000 = 0.01 → 2
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - interval '2 minutes', 'queue-worker', 10, g > 4 from generate_series(1, 20) g
union all
select now() - interval '40 minutes', 'queue-worker', 10, g > 6 from generate_series(1, 80) g
union all
select now() - interval '3 hours', 'queue-worker', 10, true from generate_series(1, 100) g
union all
select now() - interval '2 days', 'queue-worker', 10, true from generate_series(1, 800) g;

-- rpc.enqueue_event (rpc.* objective 98 %, budget 0.02): 60 spans 10 minutes ago, 3 failed:
-- 3/60 = 0.05 → 2.5 in every window but the empty 5m one (no burn, so pair 1 cannot fire).
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - interval '10 minutes', 'rpc.enqueue_event', 5, g > 3 from generate_series(1, 60) g;

-- health: half of 10 requests fail (burn 100 everywhere) but 10 < the floor of 50.
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - interval '1 minute', 'health', 5, g > 5 from generate_series(1, 10) g;

-- hydrate-features: a 5-minute spike (5 of 5 failed: burn 200) after 200 good requests 50
-- minutes ago: 5/205 = 0.0244 → 4.878 over the hour, under 14.4, so the page stays quiet.
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - interval '50 minutes', 'hydrate-features', 5, true from generate_series(1, 200) g
union all
select now() - interval '1 minute', 'hydrate-features', 5, false from generate_series(1, 5) g;

-- auth.login has its own objective (99.5 %) and floor (20): 25 requests 3 minutes ago, 2
-- failed: 0.08 → 16 in every window, so even the 1h/5m page fires with 25 requests.
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - interval '3 minutes', 'auth.login', 5, g > 2 from generate_series(1, 25) g;

select results_eq(
  $$ select path, long_window, short_window, burn_rate, short_burn_rate, threshold, requests,
            firing
       from public.vw_slo_burnrate $$,
  $$ values
     ('auth.login', '1h', '5m', 16::double precision, 16::double precision, 14.4::double precision, 25::bigint, true),
     ('auth.login', '6h', '30m', 16, 16, 6, 25, true),
     ('auth.login', '3d', '6h', 16, 16, 1, 25, true),
     ('health', '1h', '5m', 100, 100, 14.4, 10, false),
     ('health', '6h', '30m', 100, 100, 6, 10, false),
     ('health', '3d', '6h', 100, 100, 1, 10, false),
     ('hydrate-features', '1h', '5m', 4.878, 200, 14.4, 205, false),
     ('hydrate-features', '6h', '30m', 4.878, 200, 6, 205, false),
     ('hydrate-features', '3d', '6h', 4.878, 4.878, 1, 205, true),
     ('queue-worker', '1h', '5m', 20, 40, 14.4, 100, true),
     ('queue-worker', '6h', '30m', 10, 40, 6, 200, true),
     ('queue-worker', '3d', '6h', 2, 10, 1, 1000, true),
     ('rpc.enqueue_event', '1h', '5m', 2.5, null, 14.4, 60, false),
     ('rpc.enqueue_event', '6h', '30m', 2.5, 2.5, 6, 60, false),
     ('rpc.enqueue_event', '3d', '6h', 2.5, 2.5, 1, 60, true) $$,
  'burn rates, thresholds, requests and firing per path and window pair');

select results_eq(
  $$ select pair, long_window, long_len, short_window, short_len, threshold, severity
       from ops.slo_window_pairs() $$,
  $$ values (1, '1h', interval '1 hour', '5m', interval '5 minutes', 14.4::double precision, 'page'),
            (2, '6h', interval '6 hours', '30m', interval '30 minutes', 6, 'page'),
            (3, '3d', interval '3 days', '6h', interval '6 hours', 1, 'ticket') $$,
  'the workbook''s three window pairs for a 30-day objective');

-- The floor is the objective's: lowering it lets health fire, raising auth.login's silences it.
update public.kernel_slos set min_requests = 10 where slo = 'function.availability';
update public.kernel_slos set min_requests = 26 where slo = 'auth.login.availability';
select results_eq(
  $$ select path, bool_and(firing) from public.vw_slo_burnrate
      where path in ('health', 'auth.login') group by path order by path $$,
  $$ values ('auth.login', false), ('health', true) $$,
  'the traffic floor is each path''s objective''s min_requests');

-- A more specific objective wins: an exact path beats a prefix, which beats '*'.
insert into public.kernel_slos (slo, kind, path_pattern, objective, period, min_requests,
                                description)
values ('rpc.enqueue_event.availability', 'availability', 'rpc.enqueue_event', 0.95,
        '30 days', 0, 'test objective');
select is((select burn_rate from public.vw_slo_burnrate
            where path = 'rpc.enqueue_event' and long_window = '1h'),
          1::double precision,
          'an exact-path objective (95 %) overrides rpc.* (98 %): 0.05 / 0.05 = 1');
select ok(ops.path_pattern_rank('rpc.enqueue_event') > ops.path_pattern_rank('rpc.*')
            and ops.path_pattern_rank('rpc.*') > ops.path_pattern_rank('*')
            and ops.path_matches('rpc.x', 'rpc.*') and not ops.path_matches('rpcx', 'rpc.*')
            and ops.path_matches('anything', '*'),
          'patterns: exact path, then the longest prefix, then *');

-- p_now moves every window: ten minutes from now the 2-minute-old queue-worker errors have
-- left the 5-minute window.
select is((select short_burn_rate from ops.slo_burnrate(now() + interval '10 minutes')
            where path = 'queue-worker' and long_window = '1h'),
          null::double precision,
          'windows are relative to p_now: an empty short window has no burn rate');

-- The runbook statement, verbatim, on an empty table too.
select lives_ok($$ SELECT * FROM public.vw_slo_burnrate; $$,
                'runbook: SELECT * FROM public.vw_slo_burnrate runs');
delete from public.kernel_spans;
delete from ops.kernel_span_minutes;
delete from ops.kernel_span_buckets;
select is_empty($$ SELECT * FROM public.vw_slo_burnrate; $$,
                'runbook: on a stack without spans the query answers no rows');
select tests.authenticate_as_service_role();
select lives_ok($$ select * from public.vw_slo_burnrate $$, 'service_role reads vw_slo_burnrate');

select * from finish();
rollback;
