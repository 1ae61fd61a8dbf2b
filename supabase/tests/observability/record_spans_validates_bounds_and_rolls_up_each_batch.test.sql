-- ops.record_spans: the service-side batch writer validates every element (22023 naming the
-- field), refuses more than 1,000 spans, inserts all or nothing, defaults `at`, and the
-- per-minute rollups agree with the raw spans whoever inserts them.
begin;
select plan(21);

select tests.authenticate_as_service_role();

select is(ops.record_spans('[]'), 0, 'an empty batch inserts nothing');
select is(
  ops.record_spans(
    '[{"path": "queue-worker", "function": "queue-worker", "route": "/queue-worker",
       "status": 200, "duration_ms": 12.5, "ok": true},
      {"path": "rpc.enqueue_event", "duration_ms": 3, "ok": true, "function": null}]'::jsonb
    || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
         'path', 'queue-worker', 'status', 503, 'duration_ms', 900, 'ok', false,
         'at', to_char((now() - interval '10 minutes') at time zone 'UTC',
                       'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')))),
  3, 'a valid batch inserts every span and returns the count');

select results_eq(
  $$ select path, function, route, status, duration_ms, ok, at = pg_catalog.now(), user_id
       from public.kernel_spans order by id $$,
  $$ values ('queue-worker', 'queue-worker', '/queue-worker', 200, 12.5::real, true, true, null::uuid),
            ('rpc.enqueue_event', null, null, null, 3::real, true, true, null),
            ('queue-worker', null, null, 503, 900::real, false, false, null) $$,
  'fields are stored as given; at defaults to now() and user_id stays null for server spans');
select is((select at from public.kernel_spans where status = 503),
          date_trunc('microseconds', pg_catalog.now() - interval '10 minutes'),
          'an explicit ISO 8601 at is kept');

-- Validation: each element field, named with its index.
select throws_ok($$ select ops.record_spans('{"path": "x"}') $$, '22023',
                 'p_spans must be a JSON array of spans', 'an object is not a batch');
select throws_ok($$ select ops.record_spans(null) $$, '22023',
                 'p_spans must be a JSON array of spans', 'null is not a batch');
select throws_ok(
  $$ select ops.record_spans((select jsonb_agg(jsonb_build_object('path', 'health',
       'duration_ms', 1, 'ok', true)) from generate_series(1, 1001))) $$,
  '22023', 'p_spans must hold at most 1000 spans', 'more than 1,000 spans are refused');
select throws_ok(
  $$ select ops.record_spans('[{"path": "health", "duration_ms": 1, "ok": true}, 7]') $$,
  '22023', 'p_spans[1] must be an object', 'a non-object element is named by its index');
select throws_ok(
  $$ select ops.record_spans('[{"path": "Health Check", "duration_ms": 1, "ok": true}]') $$,
  '22023', 'p_spans[0].path must be a dotted lowercase path of at most 100 characters',
  'a path that is not a dotted lowercase path is refused');
select throws_ok(
  $$ select ops.record_spans('[{"path": "health", "duration_ms": -1, "ok": true}]') $$,
  '22023', 'p_spans[0].duration_ms must be a number from 0 to 3600000',
  'a negative duration is refused');
select throws_ok(
  $$ select ops.record_spans('[{"path": "health", "duration_ms": "5", "ok": true}]') $$,
  '22023', 'p_spans[0].duration_ms must be a number from 0 to 3600000',
  'a duration given as a string is refused');
select throws_ok(
  $$ select ops.record_spans('[{"path": "health", "duration_ms": 5, "ok": "yes"}]') $$,
  '22023', 'p_spans[0].ok must be a boolean', 'ok must be a boolean');
select throws_ok(
  $$ select ops.record_spans('[{"path": "health", "duration_ms": 5, "ok": true, "status": 700}]') $$,
  '22023', 'p_spans[0].status must be an HTTP status from 100 to 599',
  'a status outside 100-599 is refused');
select throws_ok(
  $$ select ops.record_spans('[{"path": "health", "duration_ms": 5, "ok": true,
                                "at": "2026-02-30T00:00:00Z"}]') $$,
  '22023', 'p_spans[0].at must be an ISO 8601 timestamp with a time zone',
  'an impossible date is refused');
select throws_ok(
  $$ select ops.record_spans(jsonb_build_array(jsonb_build_object('path', 'health',
       'duration_ms', 5, 'ok', true, 'at', to_char(now() - interval '2 days', 'YYYY-MM-DD"T"HH24:MI:SSOF')))) $$,
  '22023', 'p_spans[0].at must be within the last day and at most 5 minutes ahead',
  'a span older than a day is refused');
select throws_ok(
  $$ select ops.record_spans('[{"path": "health", "duration_ms": 5, "ok": true, "route": 5}]') $$,
  '22023', 'p_spans[0].route must be a string of at most 200 characters',
  'a route that is not a string is refused');
select is((select count(*)::int from public.kernel_spans), 3,
          'a refused batch inserts nothing, not even its valid elements');

-- Rollups: the same totals as the raw spans, for the batch writer and for direct inserts.
select tests.clear_authentication();
insert into public.kernel_spans (at, path, status, duration_ms, ok)
select now() - interval '2 hours' + (g % 7) * interval '13 seconds', 'health',
       case when g % 10 = 0 then 500 else 200 end, g * 1.5, g % 10 <> 0
from generate_series(1, 200) g;
insert into public.kernel_spans (at, path, duration_ms, ok)
values (now() - interval '2 hours', 'health', 2000, true);

select results_eq(
  $$ select minute, path, requests, errors, statused, server_errors, sum_ms, min_ms, max_ms
       from ops.kernel_span_minutes order by minute, path $$,
  $$ select date_bin('1 minute', k.at, '2000-01-01 00:00:00+00'), k.path, count(*),
            count(*) filter (where not k.ok), count(k.status),
            count(*) filter (where k.status >= 500), sum(k.duration_ms::double precision),
            min(k.duration_ms), max(k.duration_ms)
       from public.kernel_spans k group by 1, 2 order by 1, 2 $$,
  'the minute rollup equals the raw totals per minute and path, across several statements');
select results_eq(
  $$ select minute, path, bucket, requests from ops.kernel_span_buckets order by 1, 2, 3 $$,
  $$ select date_bin('1 minute', k.at, '2000-01-01 00:00:00+00'), k.path,
            ops.latency_bucket(k.duration_ms), count(*)
       from public.kernel_spans k group by 1, 2, 3 order by 1, 2, 3 $$,
  'the histogram rollup equals the raw spans bucketed per minute and path');

-- Privileges: service_role writes only through the function.
select tests.authenticate_as_service_role();
select throws_ok(
  $$ insert into public.kernel_spans (path, duration_ms, ok) values ('health', 1, true) $$,
  '42501', null, 'service_role cannot insert spans directly');
select ok(not has_function_privilege('authenticated', 'ops.record_spans(jsonb)', 'EXECUTE')
          and not has_function_privilege('anon', 'ops.record_spans(jsonb)', 'EXECUTE')
          and has_function_privilege('service_role', 'ops.record_spans(jsonb)', 'EXECUTE'),
          'only service_role (and the owner) may call ops.record_spans');

select * from finish();
rollback;
