-- Observability, part 2: the objectives and what the spans say about them. public.kernel_slos
-- (availability objectives, latency targets, the 24-hour stability targets), exact window
-- totals read from the minute rollups plus the raw spans of the partial minutes at a window's
-- edges, public.vw_kernel_slos (last hour per path), public.vw_slo_burnrate (multiwindow burn
-- rates, one row per path and window pair) and public.vw_slo_stability (the 24-hour targets).
-- Every view reads a function taking p_now, so tests can ask about a fixed instant.
-- docs/observability.md.


-- =============================================================================================
-- Paths and patterns
-- =============================================================================================

-- Whether span path p_path falls under p_pattern: '*' (every path), an exact path, or a prefix
-- ending in '.*' ('rpc.*' is every 'rpc.<fn>').
create function ops.path_matches(p_path text, p_pattern text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select p_pattern = '*'
      or p_path = p_pattern
      or (pg_catalog.right(p_pattern, 2) = '.*'
          and pg_catalog.starts_with(p_path, pg_catalog.left(p_pattern, -1)))
$$;
revoke all on function ops.path_matches(text, text) from public;
grant execute on function ops.path_matches(text, text) to service_role;

-- How specific a pattern is, so the closest objective wins: an exact path beats any prefix, a
-- longer prefix beats a shorter one, '*' comes last.
create function ops.path_pattern_rank(p_pattern text)
returns int
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case when p_pattern = '*' then 0
              when pg_catalog.right(p_pattern, 2) = '.*' then pg_catalog.length(p_pattern)
              else 1000 end
$$;
revoke all on function ops.path_pattern_rank(text) from public;
grant execute on function ops.path_pattern_rank(text) to service_role;


-- =============================================================================================
-- public.kernel_slos
-- =============================================================================================

-- The objectives, one row each. `path_pattern` says which paths (or, for source 'signals',
-- which client signal) a row covers; where several rows of a kind match a path, the most
-- specific pattern wins (ops.path_pattern_rank).
--   availability  `objective` = share of good requests over `period` (30 days): the burn rates
--                 divide each window's error ratio by 1 − objective; `min_requests` is the
--                 traffic floor a long window needs before its pair may fire.
--   latency       `target_p95_ms` / `target_avg_ms`, judged over the last hour by
--                 vw_kernel_slos.
--   stability     the 24-hour targets a release must hold (vw_slo_stability): `objective` as a
--                 success share and/or `target_avg_ms`.
create table public.kernel_slos (
  slo text primary key check (slo ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$'),
  kind text not null check (kind in ('availability', 'latency', 'stability')),
  source text not null default 'spans' check (source in ('spans', 'signals')),
  path_pattern text not null
    check (path_pattern = '*' or path_pattern ~ '^[a-z][a-z0-9_-]*(\.[A-Za-z0-9_-]+)*(\.\*)?$'),
  objective double precision check (objective > 0 and objective < 1),
  period interval not null check (period between interval '1 hour' and interval '90 days'),
  target_p95_ms real check (target_p95_ms > 0),
  target_avg_ms real check (target_avg_ms > 0),
  min_requests int not null default 0 check (min_requests >= 0),
  description text not null check (description <> ''),
  updated_at timestamptz not null default pg_catalog.now(),
  check (kind <> 'availability' or (objective is not null and source = 'spans')),
  check (kind <> 'latency' or (source = 'spans'
                               and (target_p95_ms is not null or target_avg_ms is not null))),
  check (kind <> 'stability' or objective is not null or target_avg_ms is not null),
  check (source <> 'signals' or (target_p95_ms is null and target_avg_ms is null))
);

comment on table public.kernel_slos is
  'Service level objectives: availability (burn rates), latency targets, 24-hour stability '
  'targets. docs/observability.md.';

alter table public.kernel_slos enable row level security;
create policy kernel_slos_service_all on public.kernel_slos
  for all to service_role using (true) with check (true);
revoke all on table public.kernel_slos from public, anon, authenticated, service_role;
grant select, insert, update, delete on table public.kernel_slos to service_role;

create trigger kernel_slos_touch before update on public.kernel_slos
  for each row execute function ops.discovery_touch_updated_at();
create trigger kernel_slos_ledger after insert or update or delete on public.kernel_slos
  for each row execute function ops.observability_config_changed('slo');

-- The seeded objectives. Traffic floors: 50 requests in a long window for functions and RPCs,
-- 20 for auth.login (a client path with less traffic); below them one or two failures at night
-- cannot page anyone. Operators tune them with UPDATE (ledgered).
select pg_catalog.set_config('app.actor', 'migration:20261202040100', true),
       pg_catalog.set_config('app.reason', 'seed service level objectives', true);

insert into public.kernel_slos
  (slo, kind, source, path_pattern, objective, period, target_p95_ms, target_avg_ms,
   min_requests, description)
values
  ('function.availability', 'availability', 'spans', '*', 0.995, '30 days', null, null, 50,
   '99.5 % of the requests to each function (and every other path without its own '
   'objective) succeed over 30 days'),
  ('rpc.availability', 'availability', 'spans', 'rpc.*', 0.98, '30 days', null, null, 50,
   'RPC error rate below 2 %'),
  ('auth.login.availability', 'availability', 'spans', 'auth.login', 0.995, '30 days', null,
   null, 20, '99.5 % of sign-ins succeed'),
  ('auth.login.latency', 'latency', 'spans', 'auth.login', null, '1 hour', 600, null, 0,
   'auth.login p95 at most 600 ms'),
  ('rpc.latency', 'latency', 'spans', 'rpc.*', null, '1 hour', null, 500, 0,
   'RPC average response time below 500 ms (alerts at 500 ms and 1000 ms)'),
  ('stability.registration_success', 'stability', 'signals', 'auth.registration', 0.95,
   '24 hours', null, null, 0, 'Registration success rate above 95 % over 24 hours'),
  ('stability.email_delivery', 'stability', 'signals', 'email.delivery', 0.90, '24 hours',
   null, null, 0, 'Email delivery (within 30 s) above 90 % over 24 hours'),
  ('stability.deeplink_success', 'stability', 'signals', 'deeplink.auth_callback', 0.98,
   '24 hours', null, null, 0, 'Deep link success rate above 98 % over 24 hours'),
  ('stability.rpc_error_rate', 'stability', 'spans', 'rpc.*', 0.98, '24 hours', null, null, 0,
   'RPC error rate below 2 % over 24 hours'),
  ('stability.rpc_response_time', 'stability', 'spans', 'rpc.*', null, '24 hours', null, 500,
   0, 'RPC average response time below 500 ms over 24 hours');

select pg_catalog.set_config('app.actor', '', true),
       pg_catalog.set_config('app.reason', '', true);


-- The objective of kind p_kind that applies to span path p_path: the matching row with the
-- most specific pattern (ops.path_pattern_rank), ties broken by name; all nulls when none
-- matches.
create function ops.closest_slo(p_path text, p_kind text)
returns public.kernel_slos
language sql
stable
set search_path = ''
as $$
  select s.*
  from public.kernel_slos s
  where s.kind = p_kind and s.source = 'spans' and ops.path_matches(p_path, s.path_pattern)
  order by ops.path_pattern_rank(s.path_pattern) desc, s.slo
  limit 1
$$;
revoke all on function ops.closest_slo(text, text) from public;
grant execute on function ops.closest_slo(text, text) to service_role;


-- =============================================================================================
-- Exact window totals: rollups for whole minutes, raw spans for the partial ones
-- =============================================================================================

-- Per window length in p_windows (each at least a minute, so it covers the whole current
-- minute) and path: the spans with p_now − window < at <= p_now. Whole minutes inside the window come from
-- ops.kernel_span_minutes; the partial minute at the window's start and the current minute up
-- to p_now come from public.kernel_spans through its `at` index, so the counts are exact for
-- any p_now while a window reads at most two minutes of raw spans. plpgsql with one query per
-- window so each range is planned with its actual bounds (a set-based join on the windows is
-- planned without them and scans every span), and each branch is its own range (an OR of two
-- ranges would scan everything between them).
create function ops.kernel_span_totals(p_now timestamptz, p_windows interval[])
returns table (span_window interval, path text, requests bigint, errors bigint,
               statused bigint, server_errors bigint, sum_ms double precision,
               min_ms real, max_ms real)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
declare
  len interval;
  since timestamptz;
  first_minute timestamptz;
  current_minute constant timestamptz :=
    pg_catalog.date_bin('1 minute', p_now, '2000-01-01 00:00:00+00');
  -- The current minute up to p_now, per path, read once: every window of a minute or more
  -- covers all of it.
  current_part jsonb;
begin
  select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(c)) into current_part
  from (select k.path, pg_catalog.count(*) as requests,
               pg_catalog.count(*) filter (where not k.ok) as errors,
               pg_catalog.count(k.status) as statused,
               pg_catalog.count(*) filter (where k.status >= 500) as server_errors,
               sum(k.duration_ms::double precision) as sum_ms,
               min(k.duration_ms) as min_ms, max(k.duration_ms) as max_ms
          from public.kernel_spans k
         where k.at >= current_minute and k.at <= p_now
         group by k.path) c;

  for len in select distinct x.len from pg_catalog.unnest(p_windows) as x(len) loop
    since := p_now - len;
    first_minute := pg_catalog.date_bin('1 minute', since, '2000-01-01 00:00:00+00')
                    + interval '1 minute';
    return query
    select len, p.path, sum(p.requests)::bigint, sum(p.errors)::bigint, sum(p.statused)::bigint,
           sum(p.server_errors)::bigint, sum(p.sum_ms), min(p.min_ms), max(p.max_ms)
    from (
      select m.path, m.requests, m.errors, m.statused, m.server_errors, m.sum_ms, m.min_ms,
             m.max_ms
      from ops.kernel_span_minutes m
      where m.minute >= first_minute and m.minute < current_minute
      union all
      select k.path, 1::bigint, (not k.ok)::int::bigint, (k.status is not null)::int::bigint,
             (coalesce(k.status, 0) >= 500)::int::bigint, k.duration_ms::double precision,
             k.duration_ms, k.duration_ms
      from public.kernel_spans k
      where k.at > since and k.at < least(first_minute, current_minute)
      union all
      select c.path, c.requests, c.errors, c.statused, c.server_errors, c.sum_ms, c.min_ms,
             c.max_ms
      from pg_catalog.jsonb_to_recordset(current_part) as c(
             path text, requests bigint, errors bigint, statused bigint, server_errors bigint,
             sum_ms double precision, min_ms real, max_ms real)
      where since < current_minute
    ) p
    group by p.path;
  end loop;
end
$$;
revoke all on function ops.kernel_span_totals(timestamptz, interval[]) from public;
grant execute on function ops.kernel_span_totals(timestamptz, interval[]) to service_role;

-- The latency histogram per path of the spans with p_now − p_window < at <= p_now: whole
-- minutes from ops.kernel_span_buckets, the partial minutes bucketed from the raw spans, read
-- as in ops.kernel_span_totals.
create function ops.kernel_span_histogram(p_now timestamptz, p_window interval)
returns table (path text, bucket smallint, requests bigint)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
declare
  since constant timestamptz := p_now - p_window;
  first_minute constant timestamptz :=
    pg_catalog.date_bin('1 minute', p_now - p_window, '2000-01-01 00:00:00+00')
    + interval '1 minute';
  current_minute constant timestamptz :=
    pg_catalog.date_bin('1 minute', p_now, '2000-01-01 00:00:00+00');
begin
  return query
  select p.path, p.bucket, sum(p.requests)::bigint
  from (
    select h.path, h.bucket, h.requests
    from ops.kernel_span_buckets h
    where h.minute >= first_minute and h.minute < current_minute
    union all
    select k.path, k.bucket, 1::bigint
    from public.kernel_spans k
    where k.at > since and k.at < least(first_minute, current_minute)
    union all
    select k.path, k.bucket, 1::bigint
    from public.kernel_spans k
    where k.at >= current_minute and k.at > since and k.at <= p_now
  ) p
  group by p.path, p.bucket;
end
$$;
revoke all on function ops.kernel_span_histogram(timestamptz, interval) from public;
grant execute on function ops.kernel_span_histogram(timestamptz, interval) to service_role;

-- The p_q quantile (0-1) of a latency histogram given as parallel arrays of buckets and
-- counts, with the observed minimum and maximum: the bucket holding rank q·n, interpolated
-- linearly inside it (as Prometheus's histogram_quantile does), the bucket's bounds narrowed to
-- [p_min_ms, p_max_ms] so a path whose spans all took the same time reads exactly that, and
-- the open last bucket ends at the maximum. Within one bucket width (4.4 %) of the exact value.
-- Null for an empty histogram.
create function ops.latency_quantile(
  p_q double precision,
  p_buckets smallint[],
  p_counts bigint[],
  p_min_ms double precision,
  p_max_ms double precision
)
returns double precision
language sql
immutable
parallel safe
set search_path = ''
as $$
  with h as (
    select u.bucket, u.n::double precision as n,
           sum(u.n) over (order by u.bucket)::double precision as cum,
           sum(u.n) over ()::double precision as total
    from rows from (pg_catalog.unnest(p_buckets), pg_catalog.unnest(p_counts)) as u(bucket, n)
    where u.n > 0
  ),
  hit as (
    select h.n, h.cum, h.total,
           greatest(ops.latency_bucket_lower(h.bucket), p_min_ms) as lo,
           least(ops.latency_bucket_upper(h.bucket), p_max_ms) as hi
    from h
    where h.cum >= p_q * h.total
    order by h.bucket
    limit 1
  )
  select least(greatest(x.lo + (x.hi - x.lo) * (p_q * x.total - (x.cum - x.n)) / x.n,
                        p_min_ms), p_max_ms)
  from hit x
$$;
revoke all on function ops.latency_quantile(double precision, smallint[], bigint[],
                                             double precision, double precision) from public;
grant execute on function ops.latency_quantile(double precision, smallint[], bigint[],
                                                double precision, double precision)
  to service_role;


-- =============================================================================================
-- public.vw_kernel_slos — the last hour per path
-- =============================================================================================

-- One row per path with spans in the hour before p_now: requests, error_rate (errors ÷
-- requests, 0-1), avg_ms, p50/p95/p99_ms (from the latency histogram, see
-- ops.latency_quantile), target_p95_ms (of the path's closest latency objective) and
-- meets_target: every target that applies holds — p95 within target_p95_ms, the average within
-- the latency objective's target_avg_ms, and error_rate within 1 − the closest availability
-- objective.
create function ops.kernel_slos(p_now timestamptz)
returns table (path text, requests bigint, error_rate double precision, avg_ms double precision,
               p50_ms double precision, p95_ms double precision, p99_ms double precision,
               target_p95_ms real, meets_target boolean)
language sql
stable
set search_path = ''
as $$
  with t as (
    select x.path, x.requests, x.errors, x.sum_ms, x.min_ms, x.max_ms
    from ops.kernel_span_totals(p_now, array[interval '1 hour']) x
  ),
  h as (
    select g.path, pg_catalog.array_agg(g.bucket order by g.bucket) as buckets,
           pg_catalog.array_agg(g.requests order by g.bucket) as counts
    from ops.kernel_span_histogram(p_now, interval '1 hour') g
    group by g.path
  ),
  s as (
    select t.path, t.requests,
           t.errors::double precision / t.requests as error_rate,
           t.sum_ms / t.requests as avg_ms,
           ops.latency_quantile(0.50, h.buckets, h.counts, t.min_ms, t.max_ms) as p50,
           ops.latency_quantile(0.95, h.buckets, h.counts, t.min_ms, t.max_ms) as p95,
           ops.latency_quantile(0.99, h.buckets, h.counts, t.min_ms, t.max_ms) as p99,
           lat.target_p95_ms as target_p95,
           lat.target_avg_ms as target_avg,
           av.objective
    from t
    join h on h.path = t.path
    cross join lateral ops.closest_slo(t.path, 'latency') lat
    cross join lateral ops.closest_slo(t.path, 'availability') av
    where t.requests > 0
  )
  select s.path, s.requests, s.error_rate,
         pg_catalog.round(s.avg_ms::numeric, 3)::double precision,
         pg_catalog.round(s.p50::numeric, 3)::double precision,
         pg_catalog.round(s.p95::numeric, 3)::double precision,
         pg_catalog.round(s.p99::numeric, 3)::double precision,
         s.target_p95,
         (s.target_p95 is null or s.p95 <= s.target_p95)
           and (s.target_avg is null or s.avg_ms <= s.target_avg)
           and (s.objective is null or s.error_rate <= 1 - s.objective)
  from s
  order by s.path
$$;
revoke all on function ops.kernel_slos(timestamptz) from public;
grant execute on function ops.kernel_slos(timestamptz) to service_role;

-- Per path, the last hour: requests, error rate, average and percentile latencies, the p95
-- target and whether every target holds. See ops.kernel_slos.
create view public.vw_kernel_slos
with (security_invoker = true)
as
select s.path, s.requests, s.error_rate, s.avg_ms, s.p50_ms, s.p95_ms, s.p99_ms,
       s.target_p95_ms, s.meets_target
from ops.kernel_slos(pg_catalog.now()) as s;

comment on view public.vw_kernel_slos is
  'Per path, last hour: requests, error_rate, avg/p50/p95/p99 ms, target_p95_ms, meets_target.';

revoke all on public.vw_kernel_slos from public, anon, authenticated, service_role;
grant select on public.vw_kernel_slos to service_role;


-- =============================================================================================
-- public.vw_slo_burnrate — multiwindow, multi-burn-rate
-- =============================================================================================

-- The window pairs of the SRE workbook's multiwindow, multi-burn-rate alerts for a 30-day
-- objective: page when 2 % of the budget burns in an hour (14.4× over 1 h and 5 min) or 5 % in
-- six hours (6× over 6 h and 30 min); open a ticket when 10 % burns in three days (1× over 3 d
-- and 6 h). The short window makes an alert stop soon after the burning does.
create function ops.slo_window_pairs()
returns table (pair int, long_window text, long_len interval, short_window text,
               short_len interval, threshold double precision, severity text)
language sql
immutable
set search_path = ''
as $$
  values (1, '1h', interval '1 hour', '5m', interval '5 minutes', 14.4::double precision, 'page'),
         (2, '6h', interval '6 hours', '30m', interval '30 minutes', 6, 'page'),
         (3, '3d', interval '3 days', '6h', interval '6 hours', 1, 'ticket')
$$;
revoke all on function ops.slo_window_pairs() from public;
grant execute on function ops.slo_window_pairs() to service_role;

-- One row per path with spans in the last 3 days and per window pair: burn_rate and
-- short_burn_rate are each window's error ratio divided by 1 − the path's availability
-- objective (the most specific one; a burn of 1 spends the budget exactly over the period),
-- null when the window had no requests; requests counts the long window; firing needs both
-- burns above the pair's threshold and at least the objective's min_requests in the long
-- window (the traffic floor, also returned as min_requests for the alert rules).
create function ops.slo_burnrate(p_now timestamptz)
returns table (path text, long_window text, short_window text, burn_rate double precision,
               short_burn_rate double precision, threshold double precision, requests bigint,
               firing boolean, min_requests int)
language sql
stable
set search_path = ''
as $$
  with pairs as (
    select * from ops.slo_window_pairs()
  ),
  t as materialized (
    select x.span_window, x.path, x.requests, x.errors
    from ops.kernel_span_totals(
           p_now,
           (select pg_catalog.array_agg(distinct w.len)
              from pairs p
              cross join lateral (values (p.long_len), (p.short_len)) as w(len))) x
  ),
  slo as (
    select d.path, o.objective, o.min_requests
    from (select distinct t.path from t) d
    cross join lateral ops.closest_slo(d.path, 'availability') o
    where o.objective is not null
  ),
  burns as (
    select s.path, p.pair, p.long_window, p.short_window, p.threshold, s.min_requests,
           coalesce(l.requests, 0) as requests,
           l.errors::double precision / nullif(l.requests, 0) / (1 - s.objective) as burn,
           sh.errors::double precision / nullif(sh.requests, 0) / (1 - s.objective) as short_burn
    from slo s
    cross join pairs p
    left join t l on l.path = s.path and l.span_window = p.long_len
    left join t sh on sh.path = s.path and sh.span_window = p.short_len
  )
  select b.path, b.long_window, b.short_window, b.burn, b.short_burn, b.threshold, b.requests,
         coalesce(b.requests >= b.min_requests and b.burn > b.threshold
                  and b.short_burn > b.threshold, false),
         b.min_requests
  from burns b
  order by b.path, b.pair
$$;
revoke all on function ops.slo_burnrate(timestamptz) from public;
grant execute on function ops.slo_burnrate(timestamptz) to service_role;

-- Per path and workbook window pair (1h/5m at 14.4, 6h/30m at 6, 3d/6h at 1): both burn
-- rates (rounded to 4 decimals; firing compares the exact values), the threshold, the long
-- window's requests and whether the pair fires. See ops.slo_burnrate.
create view public.vw_slo_burnrate
with (security_invoker = true)
as
select b.path, b.long_window, b.short_window,
       pg_catalog.round(b.burn_rate::numeric, 4)::double precision as burn_rate,
       pg_catalog.round(b.short_burn_rate::numeric, 4)::double precision as short_burn_rate,
       b.threshold, b.requests, b.firing
from ops.slo_burnrate(pg_catalog.now()) as b;

comment on view public.vw_slo_burnrate is
  'Per path and window pair (1h/5m 14.4, 6h/30m 6, 3d/6h 1): burn rates, threshold, requests, '
  'firing (both windows over the threshold and the traffic floor met).';

revoke all on public.vw_slo_burnrate from public, anon, authenticated, service_role;
grant select on public.vw_slo_burnrate to service_role;


-- =============================================================================================
-- Client signals over windows, and public.vw_slo_stability
-- =============================================================================================

-- Per window length in p_windows and signal name: events and failures with
-- p_now − window < at <= p_now. Signals are few (one per user action), so this reads the raw
-- rows through the `at` index, one query per window as in ops.kernel_span_totals.
create function ops.kernel_signal_totals(p_now timestamptz, p_windows interval[])
returns table (signal_window interval, name text, events bigint, failures bigint)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
declare
  len interval;
begin
  for len in select distinct x.len from pg_catalog.unnest(p_windows) as x(len) loop
    return query
    select len, s.name, pg_catalog.count(*), pg_catalog.count(*) filter (where not s.ok)
    from public.kernel_signals s
    where s.at > p_now - len and s.at <= p_now
    group by s.name;
  end loop;
end
$$;
revoke all on function ops.kernel_signal_totals(timestamptz, interval[]) from public;
grant execute on function ops.kernel_signal_totals(timestamptz, interval[]) to service_role;

-- One row per stability objective over its period before p_now: events (spans of the matching
-- paths, or signals of that name), success_rate (good ÷ events), avg_ms (spans only), the
-- targets and meets_target (null without events: no evidence either way).
create function ops.slo_stability(p_now timestamptz)
returns table (slo text, path_pattern text, period interval, events bigint,
               success_rate double precision, avg_ms double precision,
               objective double precision, target_avg_ms real, meets_target boolean)
language sql
stable
set search_path = ''
as $$
  with objectives as (
    select * from public.kernel_slos s where s.kind = 'stability'
  ),
  spans as (
    select o.slo, sum(t.requests)::bigint as events, sum(t.errors)::bigint as failures,
           sum(t.sum_ms) as sum_ms
    from objectives o
    join ops.kernel_span_totals(
           p_now, (select pg_catalog.array_agg(distinct o2.period) from objectives o2
                    where o2.source = 'spans')) t
      on t.span_window = o.period and ops.path_matches(t.path, o.path_pattern)
    where o.source = 'spans'
    group by o.slo
  ),
  signals as (
    select o.slo, g.events, g.failures
    from objectives o
    join ops.kernel_signal_totals(
           p_now, (select pg_catalog.array_agg(distinct o2.period) from objectives o2
                    where o2.source = 'signals')) g
      on g.signal_window = o.period and g.name = o.path_pattern
    where o.source = 'signals'
  ),
  r as (
    select o.slo, o.path_pattern, o.period, o.objective, o.target_avg_ms,
           coalesce(sp.events, sg.events, 0) as events,
           1 - coalesce(sp.failures, sg.failures)::double precision
             / nullif(coalesce(sp.events, sg.events), 0) as success_rate,
           sp.sum_ms / nullif(sp.events, 0) as avg_ms
    from objectives o
    left join spans sp on sp.slo = o.slo
    left join signals sg on sg.slo = o.slo
  )
  select r.slo, r.path_pattern, r.period, r.events, r.success_rate,
         pg_catalog.round(r.avg_ms::numeric, 3)::double precision, r.objective, r.target_avg_ms,
         case when r.events > 0 then
           (r.objective is null or r.success_rate >= r.objective)
           and (r.target_avg_ms is null or r.avg_ms <= r.target_avg_ms) end
  from r
  order by r.slo
$$;
revoke all on function ops.slo_stability(timestamptz) from public;
grant execute on function ops.slo_stability(timestamptz) to service_role;

-- The 24-hour stability targets (registration success, email delivery, deep links, RPC error
-- rate and response time) against what the last period shows. See ops.slo_stability.
create view public.vw_slo_stability
with (security_invoker = true)
as
select s.slo, s.path_pattern, s.period, s.events, s.success_rate, s.avg_ms, s.objective,
       s.target_avg_ms, s.meets_target
from ops.slo_stability(pg_catalog.now()) as s;

comment on view public.vw_slo_stability is
  'Stability objectives over their period (24 h): events, success_rate, avg_ms, targets, '
  'meets_target.';

revoke all on public.vw_slo_stability from public, anon, authenticated, service_role;
grant select on public.vw_slo_stability to service_role;
