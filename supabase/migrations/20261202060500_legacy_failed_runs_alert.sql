-- Legacy migration, part 6: the failed-runs alert (seed 000: "create alerts for status=failed
-- events in user_migrations"). Rule legacy_migration.failed_runs counts real runs (not dry
-- runs, which always end 'failed' / 'Dry run complete') that failed within its window, and
-- names their reasons. It joins the observability alerts: metric 'migration_failures' is added
-- to public.alert_rules' list and to the metrics that need a window, and ops.alert_values
-- measures it. docs/legacy-migration.md, docs/observability.md.


-- =============================================================================================
-- public.alert_rules: the metric and its validation
-- =============================================================================================

alter table public.alert_rules
  drop constraint alert_rules_metric_check,
  add constraint alert_rules_metric_check check (metric in (
    'span_error_rate', 'span_avg_ms', 'span_p95_ms', 'span_5xx_rate',
    'signal_failure_rate', 'signal_success_rate', 'registration_drop', 'registrations',
    'queue_p95_age', 'slo_burn_rate', 'slo_burn_pair', 'exploration_deviation',
    'dead_letters', 'cron_failures', 'migration_failures'));

-- As in 20261202040400, with migration_failures among the metrics that need eval_window: a
-- failure count without a window would count every failure ever and never resolve.
create or replace function ops.alert_rules_validate()
returns trigger
language plpgsql
set search_path = ''
as $$
declare
  metric_needs_window constant text[] := array[
    'span_error_rate', 'span_avg_ms', 'span_p95_ms', 'span_5xx_rate', 'signal_failure_rate',
    'signal_success_rate', 'registration_drop', 'registrations', 'migration_failures'];
  pattern text := new.params ->> 'path';
begin
  if new.metric = any (metric_needs_window) and new.eval_window is null then
    raise exception '%: eval_window is required for metric %', new.rule, new.metric
      using errcode = '22023';
  end if;
  if new.metric like 'span\_%' and (
       pg_catalog.jsonb_typeof(new.params -> 'path') is distinct from 'string'
       or not (pattern = '*' or ops.is_span_path(pattern)
               or (pattern like '%.*' and ops.is_span_path(pg_catalog.left(pattern, -2))))) then
    raise exception '%: params.path must be a span path, a prefix such as rpc.*, or *', new.rule
      using errcode = '22023';
  end if;
  if new.metric like 'signal\_%' and (
       pg_catalog.jsonb_typeof(new.params -> 'signal') is distinct from 'string'
       or not (new.params ->> 'signal') = any (ops.client_signal_names())) then
    raise exception '%: params.signal must be one of: %', new.rule,
      pg_catalog.array_to_string(ops.client_signal_names(), ', ') using errcode = '22023';
  end if;
  if new.metric = 'queue_p95_age'
     and coalesce(new.params ->> 'queue', '') not in ('discovery', 'events') then
    raise exception '%: params.queue must be discovery or events', new.rule
      using errcode = '22023';
  end if;
  if (new.metric = 'slo_burn_pair' or new.params ? 'long_window')
     and coalesce(new.params ->> 'long_window', '') not in (
       select p.long_window from ops.slo_window_pairs() p) then
    raise exception '%: params.long_window must be 1h, 6h or 3d', new.rule
      using errcode = '22023';
  end if;
  return new;
end
$$;
revoke all on function ops.alert_rules_validate() from public;


-- =============================================================================================
-- ops.alert_values: measuring migration_failures
-- =============================================================================================

-- As in 20261202040400 (see the metric list there), plus the last branch:
--   migration_failures   public.user_migrations rows with status 'failed' and not dry_run
--                        that finished in the window; events = the same count; note = the
--                        distinct messages with their counts, commonest first
-- A plpgsql body can only be replaced whole, so the other branches are repeated unchanged.
create or replace function ops.alert_values(p_now timestamptz)
returns table (rule text, value double precision, events double precision, floor_met boolean,
               note text)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  -- Span rates and averages: one totals call for every window these rules use.
  return query
  with r as (
    select a.rule, a.metric, a.params ->> 'path' as pattern, a.eval_window, a.min_events
    from public.alert_rules a
    where a.enabled and a.metric in ('span_error_rate', 'span_avg_ms', 'span_5xx_rate')
  ),
  t as (
    select * from ops.kernel_span_totals(
      p_now, (select pg_catalog.array_agg(distinct r.eval_window) from r))
  ),
  agg as (
    select r.rule, r.metric, r.min_events,
           coalesce(sum(t.requests), 0)::double precision as requests,
           coalesce(sum(t.errors), 0)::double precision as errors,
           coalesce(sum(t.statused), 0)::double precision as statused,
           coalesce(sum(t.server_errors), 0)::double precision as server_errors,
           sum(t.sum_ms) as sum_ms
    from r
    left join t on t.span_window = r.eval_window and ops.path_matches(t.path, r.pattern)
    group by r.rule, r.metric, r.min_events
  )
  select a.rule,
         case a.metric
           when 'span_error_rate' then a.errors / nullif(a.requests, 0)
           when 'span_avg_ms' then a.sum_ms / nullif(a.requests, 0)
           else a.server_errors / nullif(a.statused, 0) end,
         case when a.metric = 'span_5xx_rate' then a.statused else a.requests end,
         case when a.metric = 'span_5xx_rate' then a.statused else a.requests end >= a.min_events,
         null::text
  from agg a;

  -- Span percentiles: the merged histogram of the matching paths.
  return query
  with r as (
    select a.rule, a.params ->> 'path' as pattern, a.eval_window, a.min_events
    from public.alert_rules a
    where a.enabled and a.metric = 'span_p95_ms'
  ),
  t as (
    select r.rule, sum(x.requests)::double precision as requests,
           min(x.min_ms)::double precision as min_ms, max(x.max_ms)::double precision as max_ms
    from r
    join ops.kernel_span_totals(
           p_now, (select pg_catalog.array_agg(distinct r2.eval_window) from r r2)) x
      on x.span_window = r.eval_window and ops.path_matches(x.path, r.pattern)
    group by r.rule
  ),
  h as (
    select r.rule, g.bucket, sum(g.requests)::bigint as n
    from r
    cross join lateral ops.kernel_span_histogram(p_now, r.eval_window) g
    where ops.path_matches(g.path, r.pattern)
    group by r.rule, g.bucket
  )
  select r.rule,
         ops.latency_quantile(
           0.95,
           (select pg_catalog.array_agg(h.bucket order by h.bucket) from h where h.rule = r.rule),
           (select pg_catalog.array_agg(h.n order by h.bucket) from h where h.rule = r.rule),
           t.min_ms, t.max_ms),
         coalesce(t.requests, 0),
         coalesce(t.requests, 0) >= r.min_events,
         null::text
  from r
  left join t on t.rule = r.rule;

  -- Client signals.
  return query
  with r as (
    select a.rule, a.metric, a.params ->> 'signal' as signal, a.eval_window, a.min_events
    from public.alert_rules a
    where a.enabled and a.metric in ('signal_failure_rate', 'signal_success_rate')
  ),
  t as (
    select * from ops.kernel_signal_totals(
      p_now, (select pg_catalog.array_agg(distinct r.eval_window) from r))
  )
  select r.rule,
         case r.metric
           when 'signal_failure_rate' then t.failures::double precision / nullif(t.events, 0)
           else 1 - t.failures::double precision / nullif(t.events, 0) end,
         coalesce(t.events, 0)::double precision,
         coalesce(t.events, 0) >= r.min_events,
         null::text
  from r
  left join t on t.signal_window = r.eval_window and t.name = r.signal;

  -- Registrations against their 7-day baseline.
  return query
  select a.rule,
         case a.metric
           when 'registrations' then c.registrations::double precision
           else 1 - c.registrations / nullif(c.baseline, 0) end,
         c.baseline,
         c.baseline >= a.min_events,
         pg_catalog.format('%s registrations, %s expected from the last 7 days',
                           c.registrations, pg_catalog.round(c.baseline::numeric, 1))
  from public.alert_rules a
  cross join lateral ops.auth_registration_counts(p_now, a.eval_window) c
  where a.enabled and a.metric in ('registration_drop', 'registrations');

  -- Queue backlog age.
  if exists (select 1 from public.alert_rules a where a.enabled and a.metric = 'queue_p95_age') then
    return query
    select a.rule,
           case a.params ->> 'queue'
             when 'discovery' then (select d.p95_age_sec::double precision
                                      from public.vw_discovery_queue_health d
                                     where d.status = 'queued')
             else (select max(e.p95_age_sec)::double precision
                     from public.vw_events_queue_health e where e.status = 'queued') end,
           null::double precision, true, null::text
    from public.alert_rules a
    where a.enabled and a.metric = 'queue_p95_age';
  end if;

  -- Burn rates: one evaluation of every path and pair.
  if exists (select 1 from public.alert_rules a
              where a.enabled and a.metric in ('slo_burn_rate', 'slo_burn_pair')) then
    return query
    with b as materialized (
      select * from ops.slo_burnrate(p_now) x where x.requests >= x.min_requests
    )
    select a.rule,
           case a.metric
             when 'slo_burn_rate' then (
               select max(b.burn_rate) from b
                where b.long_window = coalesce(a.params ->> 'long_window', b.long_window))
             else (
               select max(least(b.burn_rate, b.short_burn_rate)) from b
                where b.long_window = a.params ->> 'long_window') end,
           (select sum(b.requests)::double precision from b
             where b.long_window = coalesce(a.params ->> 'long_window', b.long_window)),
           exists (select 1 from b
                    where b.long_window = coalesce(a.params ->> 'long_window', b.long_window)),
           (select pg_catalog.string_agg(
                     pg_catalog.format('%s %s/%s burn %s/%s', b.path, b.long_window,
                                       b.short_window,
                                       pg_catalog.round(b.burn_rate::numeric, 2),
                                       pg_catalog.round(b.short_burn_rate::numeric, 2)),
                     ', ' order by b.path, b.long_window)
              from b
             where b.long_window = coalesce(a.params ->> 'long_window', b.long_window)
               and case a.metric when 'slo_burn_pair' then b.firing
                                 else b.burn_rate > a.threshold end)
    from public.alert_rules a
    where a.enabled and a.metric in ('slo_burn_rate', 'slo_burn_pair');
  end if;

  -- Exploration rate against epsilon.
  return query
  select a.rule, d.value, d.events, d.value is not null, d.note
  from public.alert_rules a
  left join lateral ops.alert_exploration_deviation(a.min_events) d on true
  where a.enabled and a.metric = 'exploration_deviation';

  -- Dead letters (the partial dead-letter indexes make these counts cheap).
  if exists (select 1 from public.alert_rules a where a.enabled and a.metric = 'dead_letters') then
    return query
    with c as (
      select (select pg_catalog.count(*) from public.events_queue q
               where q.status = 'error') as events_dlq,
             (select pg_catalog.count(*) from public.marketplace_discovery_queue q
               where q.status = 'error') as discovery_dlq
    )
    select a.rule, (c.events_dlq + c.discovery_dlq)::double precision, null::double precision,
           true,
           pg_catalog.format('events_queue %s, marketplace_discovery_queue %s', c.events_dlq,
                             c.discovery_dlq)
    from public.alert_rules a
    cross join c
    where a.enabled and a.metric = 'dead_letters';
  end if;

  -- Cron → function calls.
  if exists (select 1 from public.alert_rules a where a.enabled and a.metric = 'cron_failures') then
    return query
    with h as materialized (select * from ops.cron_health(p_now))
    select a.rule,
           coalesce((select sum(h.failures_1h) from h), 0)::double precision,
           coalesce((select sum(h.runs_1h) from h), 0)::double precision,
           true,
           (select pg_catalog.string_agg(pg_catalog.format('%s: %s failed of %s runs',
                                                           h.jobname, h.failures_1h, h.runs_1h),
                                         ', ' order by h.jobname)
              from h where h.failures_1h > 0)
    from public.alert_rules a
    where a.enabled and a.metric = 'cron_failures';
  end if;

  -- Failed real legacy migration runs (the predicate is user_migrations_failed_idx's): the
  -- five commonest reasons with their counts, each cut to 200 characters, so one bad deploy's
  -- many distinct messages cannot swell the webhook message.
  return query
  select a.rule, c.failures, c.failures, c.failures >= a.min_events,
         c.reasons || case when c.distinct_reasons > 5
                           then pg_catalog.format(' | %s more', c.distinct_reasons - 5)
                           else '' end
  from public.alert_rules a
  cross join lateral (
    select coalesce(sum(g.runs), 0)::double precision as failures,
           pg_catalog.count(*) as distinct_reasons,
           pg_catalog.string_agg(pg_catalog.format('%s (%s)', g.reason, g.runs), ' | '
                                 order by g.place) filter (where g.place <= 5) as reasons
    from (
      select x.reason, pg_catalog.count(*) as runs,
             pg_catalog.row_number() over (order by pg_catalog.count(*) desc, x.reason) as place
      from public.user_migrations m
      cross join lateral (
        select pg_catalog.left(coalesce(m.message, '(no message)'), 200) as reason) x
      where m.status = 'failed' and not m.dry_run
        and m.finished_at > p_now - a.eval_window and m.finished_at <= p_now
      group by x.reason
    ) g
  ) c
  where a.enabled and a.metric = 'migration_failures';
end
$$;
revoke all on function ops.alert_values(timestamptz) from public;
grant execute on function ops.alert_values(timestamptz) to service_role;


-- =============================================================================================
-- Seed: the rule
-- =============================================================================================

select pg_catalog.set_config('app.actor', 'migration:20261202060500', true),
       pg_catalog.set_config('app.reason', 'seed the legacy migration failed-runs alert', true);

-- 15 minutes, the tier rates' window: a failed real run is acted on within minutes, and the
-- rule resolves on its own a quarter of an hour after the last failure. Any failure fires: a
-- real run fails on bad legacy data, a Storage or database fault or a crashed isolate, and
-- each of those is worth a look.
insert into public.alert_rules
  (rule, severity, metric, params, comparison, threshold, unit, eval_window, for_duration,
   min_events, auto_safe_mode, description, action)
values
  ('legacy_migration.failed_runs', 'warning', 'migration_failures', '{}', '>', 0, 'count',
   '15 minutes', '0', 0, false,
   'Legacy migration runs (not dry runs) failed in the last 15 minutes',
   'Read the reasons in public.user_migrations; if runs keep failing, follow the '
   'docs/legacy-migration.md rollback plan');

select pg_catalog.set_config('app.actor', '', true),
       pg_catalog.set_config('app.reason', '', true);
