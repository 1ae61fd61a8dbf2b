-- Observability, part 5: alerts. public.alert_rules holds the tiers and rollback triggers of
-- the monitoring runbook, the cutover guide's thresholds and the workbook burn-rate pairs;
-- public.vw_alerts says what each rule sees now; ops.evaluate_alerts (pg_cron, every minute)
-- records each change of state in the ledger, posts it to a Slack-compatible webhook through
-- pg_net, and, when the flag ops.auto_safe_mode is on and a burn-rate rule fires, turns
-- global.safe_mode on itself (never off). docs/observability.md.


-- =============================================================================================
-- public.alert_rules
-- =============================================================================================

-- One row per rule. `metric` names what is measured (see ops.alert_values), `params` which
-- path, signal, queue or window pair, `eval_window` over how long; the rule is breached when
-- the value compares (`comparison`) past `threshold` with at least `min_events` events behind
-- it (the traffic floor: a rate over three requests pages nobody), and fires once it has been
-- breached for `for_duration` (the rollback triggers' "for > 15 minutes"). Values are ratios
-- (0-1), milliseconds, seconds, counts or burn rates (`unit`, used for display). A rule with
-- `auto_safe_mode` may throw global.safe_mode while the ops.auto_safe_mode flag is on.
create table public.alert_rules (
  rule text primary key check (rule ~ '^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$'),
  severity text not null check (severity in ('critical', 'warning', 'info')),
  metric text not null check (metric in (
    'span_error_rate', 'span_avg_ms', 'span_p95_ms', 'span_5xx_rate',
    'signal_failure_rate', 'signal_success_rate', 'registration_drop', 'registrations',
    'queue_p95_age', 'slo_burn_rate', 'slo_burn_pair', 'exploration_deviation',
    'dead_letters', 'cron_failures', 'migration_failures')),
  params jsonb not null default '{}'::jsonb check (pg_catalog.jsonb_typeof(params) = 'object'),
  comparison text not null check (comparison in ('>', '<')),
  threshold double precision not null check (threshold between -1e12 and 1e12),
  unit text not null check (unit in ('ratio', 'ms', 'seconds', 'count', 'burn')),
  eval_window interval check (eval_window between interval '1 minute' and interval '30 days'),
  for_duration interval not null default interval '0'
    check (for_duration between interval '0' and interval '1 day'),
  min_events int not null default 0 check (min_events >= 0),
  auto_safe_mode boolean not null default false,
  enabled boolean not null default true,
  description text not null check (description <> ''),
  action text,
  updated_at timestamptz not null default pg_catalog.now()
);

comment on table public.alert_rules is
  'Alert rules evaluated every minute by ops.evaluate_alerts; current state in vw_alerts. '
  'docs/observability.md.';

alter table public.alert_rules enable row level security;
create policy alert_rules_service_all on public.alert_rules
  for all to service_role using (true) with check (true);
revoke all on table public.alert_rules from public, anon, authenticated, service_role;
grant select, insert, update, delete on table public.alert_rules to service_role;

-- Refuses (22023, naming the field) a rule whose params or window its metric cannot use, so a
-- typo fails when written rather than reading "no data" forever.
create function ops.alert_rules_validate()
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

create trigger alert_rules_validate before insert or update on public.alert_rules
  for each row execute function ops.alert_rules_validate();
create trigger alert_rules_touch before update on public.alert_rules
  for each row execute function ops.discovery_touch_updated_at();
create trigger alert_rules_ledger after insert or update or delete on public.alert_rules
  for each row execute function ops.observability_config_changed('rule');


-- =============================================================================================
-- ops.alert_state — what the evaluator last decided
-- =============================================================================================

-- Per rule: whether it fires, since when its condition has held (pending_since, null when it
-- does not: what `for_duration` counts from), when `firing` last changed, the last value and
-- evaluation, and when this firing episode threw safe mode (so it is thrown once per episode,
-- and an operator who turns safe mode off again is not overruled every minute).
create table ops.alert_state (
  rule text primary key references public.alert_rules (rule) on update cascade on delete cascade,
  firing boolean not null default false,
  pending_since timestamptz,
  changed_at timestamptz,
  value double precision,
  evaluated_at timestamptz not null,
  safe_mode_at timestamptz
);

comment on table ops.alert_state is
  'Per alert rule: firing, since when its condition holds, last change and value '
  '(written by ops.evaluate_alerts).';

alter table ops.alert_state enable row level security;
create policy alert_state_service_read on ops.alert_state
  for select to service_role using (true);
revoke all on ops.alert_state from public, anon, authenticated, service_role;
grant select on ops.alert_state to service_role;


-- =============================================================================================
-- Measuring: ops.alert_values
-- =============================================================================================

-- The exploration rule's value: over the policies in vw_policy_health with at least
-- p_min_events slots and a positive expected exploration rate, the largest relative deviation
-- |exploration_rate − expected| ÷ expected, where expected is ε(K−1)/K (what epsilon-greedy
-- explores with K candidates left; ε itself when K was not logged). Raw ε would make every
-- short slate look like a deviation. No rows (no data) when the view does not exist, so the
-- rule works before the ranker is installed: hence dynamic SQL.
create function ops.alert_exploration_deviation(p_min_events int)
returns table (value double precision, events double precision, note text)
language plpgsql
stable
set search_path = ''
as $$
begin
  if pg_catalog.to_regclass('public.vw_policy_health') is null then
    return;
  end if;
  return query execute $q$
    select max(pg_catalog.abs(h.exploration_rate - h.expected_exploration_rate)
               / h.expected_exploration_rate),
           sum(h.events)::double precision,
           pg_catalog.string_agg(pg_catalog.format('%s explores %s %% (expected %s %%)', h.policy,
                                   pg_catalog.round((h.exploration_rate * 100)::numeric, 1),
                                   pg_catalog.round((h.expected_exploration_rate * 100)::numeric, 1)),
                                 ', ' order by h.policy)
    from public.vw_policy_health h
    where h.events >= $1 and h.expected_exploration_rate > 0
    having pg_catalog.count(*) > 0 $q$
    using p_min_events;
end
$$;
revoke all on function ops.alert_exploration_deviation(int) from public;
grant execute on function ops.alert_exploration_deviation(int) to service_role;

-- Each enabled rule's value at p_now, the events behind it, whether the traffic floor is met,
-- and a note naming what drives it. Per metric (windows are (p_now − eval_window, p_now]):
--   span_error_rate / span_avg_ms / span_5xx_rate
--                        over the spans whose path matches params.path: errors ÷ requests,
--                        mean duration, 5xx ÷ spans with a status; events = requests (spans
--                        with a status for the 5xx rate)
--   span_p95_ms          p95 of the matching spans' merged latency histogram
--   signal_failure_rate / signal_success_rate
--                        failed (good) ÷ all signals named params.signal
--   registration_drop    1 − registrations ÷ the 7-day baseline per window (auth.users);
--                        events = the baseline, so min_events is the expected count a drop
--                        is measured against
--   registrations        users created in the window; floor on the baseline as above, so
--                        "zero registrations" only fires where registrations are expected
--   queue_p95_age        p95_age_sec of queued rows (vw_discovery_queue_health, or the
--                        largest topic's in vw_events_queue_health)
--   slo_burn_rate        the largest burn_rate (long window of params.long_window, or of any
--                        pair) among paths at or above their objective's traffic floor
--   slo_burn_pair        for pair params.long_window, the largest min(burn, short burn) among
--                        paths at or above their floor: above the pair's threshold exactly
--                        when vw_slo_burnrate says the pair fires for some path
--   exploration_deviation  see ops.alert_exploration_deviation
--   dead_letters         rows in both dead-letter queues
--   cron_failures        failures_1h summed over vw_cron_health; events = runs_1h summed
--   migration_failures   public.user_migrations rows with status 'failed' and not dry_run
--                        that finished in the window (the legacy migration's failed real
--                        runs); events = the same count; note = the distinct messages with
--                        their counts, commonest first
-- A null value means no data (nothing in the window). Each family is measured once for all
-- its rules. Volatile: the queue health functions sample.
create function ops.alert_values(p_now timestamptz)
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
-- Display helpers
-- =============================================================================================

-- A rule's value for people: ratios as percentages, milliseconds, seconds, counts, burn rates
-- as multiples; 'no data' for null.
create function ops.alert_format(p_value double precision, p_unit text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when p_value is null then 'no data'
    when p_unit = 'ratio' then pg_catalog.round((p_value * 100)::numeric, 1)::text || ' %'
    when p_unit = 'ms' then pg_catalog.round(p_value::numeric, 1)::text || ' ms'
    when p_unit = 'seconds' then pg_catalog.round(p_value::numeric, 1)::text || ' s'
    when p_unit = 'burn' then pg_catalog.round(p_value::numeric, 2)::text || 'x'
    else pg_catalog.round(p_value::numeric)::text
  end
$$;
revoke all on function ops.alert_format(double precision, text) from public;
grant execute on function ops.alert_format(double precision, text) to service_role;

-- A duration for people: '45 s', '15 min', '6 h', '3 d' (rounded down); null for null.
create function ops.alert_duration(p_length interval)
returns text
language sql
immutable
strict
set search_path = ''
as $$
  select case
    when s < 60 then pg_catalog.floor(s)::text || ' s'
    when s < 3600 then pg_catalog.floor(s / 60)::text || ' min'
    when s < 86400 then pg_catalog.floor(s / 3600)::text || ' h'
    else pg_catalog.floor(s / 86400)::text || ' d'
  end
  from (select greatest(extract(epoch from p_length), 0)::double precision as s) x
$$;
revoke all on function ops.alert_duration(interval) from public;
grant execute on function ops.alert_duration(interval) to service_role;


-- =============================================================================================
-- public.vw_alerts
-- =============================================================================================

-- Every enabled rule at p_now: its value and threshold, whether it fires, since when its
-- condition has held (the evaluator's pending_since while it keeps holding, else p_now; null
-- when it does not hold), and a one-line detail. breached = a value, the traffic floor met and
-- the comparison true; firing = breached for at least for_duration. The evaluator and the view
-- both read this, so they always agree.
create function ops.alerts(p_now timestamptz)
returns table (rule text, severity text, value double precision, threshold double precision,
               firing boolean, since timestamptz, detail text, breached boolean,
               description text, action text, unit text, comparison text,
               auto_safe_mode boolean)
language sql
volatile
set search_path = ''
as $$
  with v as materialized (
    select * from ops.alert_values(p_now)
  ),
  e as (
    select r.rule, r.severity, r.threshold, r.comparison, r.unit, r.eval_window,
           r.for_duration, r.min_events, r.description, r.action, r.auto_safe_mode,
           v.value, v.events, v.floor_met, v.note, s.pending_since,
           coalesce(v.value is not null and v.floor_met
                    and case r.comparison when '>' then v.value > r.threshold
                                          else v.value < r.threshold end, false) as breached
    from public.alert_rules r
    left join v on v.rule = r.rule
    left join ops.alert_state s on s.rule = r.rule
    where r.enabled
  ),
  f as (
    select e.*,
           case when e.breached then
             case when e.pending_since <= p_now then e.pending_since else p_now end
           end as since
    from e
  )
  select f.rule, f.severity, f.value, f.threshold,
         f.breached and f.since <= p_now - f.for_duration,
         f.since,
         pg_catalog.concat_ws('; ',
           pg_catalog.format('%s (fires when %s %s)', ops.alert_format(f.value, f.unit),
                             f.comparison, ops.alert_format(f.threshold, f.unit)),
           'window ' || ops.alert_duration(f.eval_window),
           pg_catalog.round(f.events::numeric)::text || ' events',
           case when f.value is not null and not f.floor_met
                then 'below the traffic floor of ' || f.min_events end,
           case when f.for_duration > interval '0'
                then 'fires after ' || ops.alert_duration(f.for_duration) end,
           f.note),
         f.breached, f.description, f.action, f.unit, f.comparison, f.auto_safe_mode
  from f
  order by pg_catalog.array_position(array['critical', 'warning', 'info'], f.severity), f.rule
$$;
revoke all on function ops.alerts(timestamptz) from public;
grant execute on function ops.alerts(timestamptz) to service_role;

-- Every enabled alert rule now: value, threshold, firing, since (when its condition started to
-- hold) and a one-line detail. See ops.alerts.
create view public.vw_alerts
with (security_invoker = true)
as
select a.rule, a.severity, a.value, a.threshold, a.firing, a.since, a.detail
from ops.alerts(pg_catalog.now()) as a;

comment on view public.vw_alerts is
  'Every enabled alert rule now: rule, severity, value, threshold, firing, since, detail.';

revoke all on public.vw_alerts from public, anon, authenticated, service_role;
grant select on public.vw_alerts to service_role;


-- =============================================================================================
-- Delivery: the Slack-compatible message
-- =============================================================================================

-- The webhook body for one change of state, in Slack's incoming-webhook shape (`text` plus one
-- attachment of fields), which Mattermost, Discord's /slack endpoint and most chat tools also
-- accept. Firing: ':rotating_light: CRITICAL: <rule> is firing — <description>', colour by
-- severity; resolved: ':white_check_mark: RESOLVED: …', green. `p_duration` is how long the
-- condition has held (firing) or how long it fired (resolved).
create function ops.alert_message(
  p_rule text,
  p_severity text,
  p_firing boolean,
  p_description text,
  p_value text,
  p_threshold text,
  p_duration text,
  p_detail text,
  p_action text
)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'text',
    case when p_firing
         then pg_catalog.format(':rotating_light: %s: %s is firing: %s',
                                pg_catalog.upper(p_severity), p_rule, p_description)
         else pg_catalog.format(':white_check_mark: RESOLVED: %s: %s', p_rule, p_description)
    end,
    'attachments', pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
      'color',
      case when not p_firing then 'good'
           when p_severity = 'critical' then 'danger'
           when p_severity = 'warning' then 'warning'
           else '#439FE0' end,
      'fields', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_object('title', 'Current value', 'value', p_value, 'short', true),
        pg_catalog.jsonb_build_object('title', 'Threshold', 'value', p_threshold, 'short', true),
        pg_catalog.jsonb_build_object('title', 'Duration', 'value', p_duration, 'short', true),
        pg_catalog.jsonb_build_object('title', 'Severity', 'value', p_severity, 'short', true),
        pg_catalog.jsonb_build_object('title', 'Detail', 'value', p_detail, 'short', false))
        || case when p_action is not null and p_firing
                then pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                       'title', 'Action', 'value', p_action, 'short', false))
                else '[]'::jsonb end))))
$$;
revoke all on function ops.alert_message(text, text, boolean, text, text, text, text, text, text)
  from public;
grant execute on function ops.alert_message(text, text, boolean, text, text, text, text, text,
                                            text) to service_role;

-- Posts p_message to the Vault secret alert_webhook_url through pg_net and returns the request
-- id, or null (nothing sent) when the secret is absent or empty. Owner only: it reads Vault.
create function ops.post_alert(p_message jsonb)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
  url text;
begin
  select nullif(pg_catalog.btrim(s.decrypted_secret), '') into url
  from vault.decrypted_secrets s
  where s.name = 'alert_webhook_url'
  order by s.created_at desc
  limit 1;
  if url is null then
    return null;
  end if;
  return net.http_post(
    url := url,
    body := p_message,
    headers := '{"Content-Type": "application/json"}'::jsonb,
    timeout_milliseconds := 5000);
end
$$;
revoke all on function ops.post_alert(jsonb) from public;


-- =============================================================================================
-- ops.evaluate_alerts — the every-minute evaluator
-- =============================================================================================

-- Evaluates every enabled rule at p_now (ops.alerts) and stores the outcome in ops.alert_state.
-- For each rule whose `firing` changed: posts the Slack-compatible message (ops.post_alert; no
-- secret, no post, the state is still recorded) and writes a ledger row (alert.firing or
-- alert.resolved, target alert:<rule>, before/after the state, reason the detail), and returns
-- the change (rule, firing, value, webhook_request_id). Then, when the flag ops.auto_safe_mode
-- is on and a rule marked auto_safe_mode fires and has not yet thrown safe mode in this firing
-- episode, turns global.safe_mode fully on (unless it already is): the flag's own ledger row
-- has actor 'alerts' and a reason naming the rules; a message is posted too. It never turns
-- safe mode off. Every ledger row it writes has actor 'alerts' (app.actor, restored after).
-- Evaluations are serialised by a transaction-scoped advisory lock. Owner only (pg_cron; it
-- reads Vault).
create function ops.evaluate_alerts(p_now timestamptz default pg_catalog.now())
returns table (rule text, firing boolean, value double precision, webhook_request_id bigint)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  -- hashtext('ops.evaluate_alerts'), fixed so every session takes the same lock.
  lock_key constant bigint := 7216843049;
  actor_before text := pg_catalog.current_setting('app.actor', true);
  reason_before text := pg_catalog.current_setting('app.reason', true);
  a record;
  old_state ops.alert_state;
  changed boolean;
  request_id bigint;
  safe_rules text;
  safe_detail text;
  flag_value jsonb;
begin
  perform pg_catalog.pg_advisory_xact_lock(lock_key);
  perform pg_catalog.set_config('app.actor', 'alerts', true);

  for a in select * from ops.alerts(p_now) loop
    select * into old_state from ops.alert_state s where s.rule = a.rule;
    changed := coalesce(old_state.firing, false) is distinct from a.firing;

    insert into ops.alert_state as s
      (rule, firing, pending_since, changed_at, value, evaluated_at, safe_mode_at)
    values (a.rule, a.firing, a.since, case when changed then p_now end, a.value, p_now, null)
    on conflict on constraint alert_state_pkey do update
      set firing = excluded.firing,
          pending_since = excluded.pending_since,
          changed_at = case when changed then p_now else s.changed_at end,
          value = excluded.value,
          evaluated_at = excluded.evaluated_at,
          safe_mode_at = case when excluded.firing then s.safe_mode_at end;

    if changed then
      request_id := ops.post_alert(ops.alert_message(
        p_rule => a.rule,
        p_severity => a.severity,
        p_firing => a.firing,
        p_description => a.description,
        p_value => ops.alert_format(a.value, a.unit),
        p_threshold => a.comparison || ' ' || ops.alert_format(a.threshold, a.unit),
        p_duration => ops.alert_duration(
          case when a.firing then p_now - a.since
               else p_now - coalesce(old_state.changed_at, p_now) end),
        p_detail => a.detail,
        p_action => a.action));
      perform public.record_ai_action(
        p_action => case when a.firing then 'alert.firing' else 'alert.resolved' end,
        p_target => 'alert:' || a.rule,
        p_before => pg_catalog.jsonb_build_object(
          'firing', coalesce(old_state.firing, false), 'changed_at', old_state.changed_at),
        p_after => pg_catalog.jsonb_build_object(
          'firing', a.firing, 'severity', a.severity, 'value', a.value,
          'threshold', a.threshold, 'since', a.since, 'webhook_request_id', request_id),
        p_reason => a.detail);
      return query select a.rule, a.firing, a.value, request_id;
    end if;
  end loop;

  -- GUARD: auto safe mode only while its flag is on, once per firing episode.
  if public.flag_enabled('ops.auto_safe_mode') then
    select pg_catalog.string_agg(s.rule, ', ' order by s.rule) into safe_rules
    from ops.alert_state s
    join public.alert_rules r on r.rule = s.rule
    where r.enabled and r.auto_safe_mode and s.firing and s.safe_mode_at is null;

    if safe_rules is not null then
      select f.value into flag_value
      from public.feature_flags f where f.key = 'global.safe_mode' for update;
      -- Fully on = enabled for everyone (no percentage below 100).
      if flag_value is null
         or (flag_value -> 'enabled') is distinct from 'true'::jsonb
         or (pg_catalog.jsonb_typeof(flag_value -> 'percentage') = 'number'
             and (flag_value ->> 'percentage')::numeric < 100) then
        safe_detail := pg_catalog.format('auto safe mode: alert %s fired', safe_rules);
        perform pg_catalog.set_config('app.reason', safe_detail, true);
        insert into public.feature_flags as f (key, value, description)
        values ('global.safe_mode', '{"enabled": true}'::jsonb,
                'Kill switch. On: ranker uses epsilon 0 and deterministic slates.')
        on conflict (key) do update set value = excluded.value;
        perform pg_catalog.set_config('app.reason', coalesce(reason_before, ''), true);
        perform ops.post_alert(pg_catalog.jsonb_build_object(
          'text', pg_catalog.format(
            ':octagonal_sign: global.safe_mode turned ON by the alert evaluator (%s). '
            'Turn it off by hand once the cause is fixed.', safe_rules)));
      end if;
      update ops.alert_state s set safe_mode_at = p_now
      from public.alert_rules r
      where r.rule = s.rule and r.enabled and r.auto_safe_mode and s.firing
        and s.safe_mode_at is null;
    end if;
  end if;

  perform pg_catalog.set_config('app.actor', coalesce(actor_before, ''), true);
end
$$;
revoke all on function ops.evaluate_alerts(timestamptz) from public;


-- =============================================================================================
-- Seeds: the flag, the rules, the job
-- =============================================================================================

select pg_catalog.set_config('app.actor', 'migration:20261202040400', true),
       pg_catalog.set_config('app.reason', 'seed alert rules and the auto safe mode flag', true);

-- Off by default: throwing the kill switch automatically is a decision an operator opts into.
insert into public.feature_flags (key, value, description) values
  ('ops.auto_safe_mode', '{"enabled": false}',
   'On: when a burn-rate alert fires, the alert evaluator turns global.safe_mode on (never off).')
on conflict (key) do nothing;

-- Windows: 15 minutes for the tier rates (fresh enough to act on, long enough for a floor of
-- 20 requests), an hour for email and deep links (slower, sparser signals), 5 minutes held for
-- the stated duration for the rollback triggers.
insert into public.alert_rules
  (rule, severity, metric, params, comparison, threshold, unit, eval_window, for_duration,
   min_events, auto_safe_mode, description, action)
values
  -- The monitoring runbook's tiers.
  ('auth.failure_rate.critical', 'critical', 'span_error_rate', '{"path": "auth.login"}', '>',
   0.20, 'ratio', '15 minutes', '0', 20, false, 'Auth failure rate above 20 %',
   'Authentication system issues: check Auth settings and logs'),
  ('auth.failure_rate.warning', 'warning', 'span_error_rate', '{"path": "auth.login"}', '>',
   0.10, 'ratio', '15 minutes', '0', 20, false, 'Auth failure rate above 10 %',
   'Potential authentication issues: watch closely'),
  ('auth.failure_rate.info', 'info', 'span_error_rate', '{"path": "auth.login"}', '>', 0.05,
   'ratio', '15 minutes', '0', 20, false, 'Auth failure rate above 5 %', null),
  ('email.delivery.critical', 'critical', 'signal_success_rate', '{"signal": "email.delivery"}',
   '<', 0.50, 'ratio', '1 hour', '0', 10, false, 'Email delivery below 50 %',
   'Critical email delivery failure: check the SMTP provider and Auth logs'),
  ('email.delivery.warning', 'warning', 'signal_success_rate', '{"signal": "email.delivery"}',
   '<', 0.80, 'ratio', '1 hour', '0', 10, false, 'Email delivery below 80 %',
   'Email delivery degradation'),
  ('email.delivery.info', 'info', 'signal_success_rate', '{"signal": "email.delivery"}', '<',
   0.90, 'ratio', '1 hour', '0', 10, false, 'Email delivery below 90 %', null),
  ('deeplink.failure.critical', 'critical', 'signal_failure_rate',
   '{"signal": "deeplink.auth_callback"}', '>', 0.10, 'ratio', '1 hour', '0', 10, false,
   'Deep link failure above 10 %', 'App store / OS deep link issues: check the redirect URLs'),
  ('deeplink.failure.warning', 'warning', 'signal_failure_rate',
   '{"signal": "deeplink.auth_callback"}', '>', 0.05, 'ratio', '1 hour', '0', 10, false,
   'Deep link failure above 5 %', 'Potential OS / browser issues'),
  ('rpc.error_rate.critical', 'critical', 'span_error_rate', '{"path": "rpc.*"}', '>', 0.10,
   'ratio', '15 minutes', '0', 20, false, 'RPC error rate above 10 %',
   'Database or RLS configuration issues'),
  ('rpc.error_rate.warning', 'warning', 'span_error_rate', '{"path": "rpc.*"}', '>', 0.05,
   'ratio', '15 minutes', '0', 20, false, 'RPC error rate above 5 %',
   'RPC errors above the alert level'),
  ('rpc.latency.warning', 'warning', 'span_avg_ms', '{"path": "rpc.*"}', '>', 1000, 'ms',
   '15 minutes', '0', 20, false, 'RPC response time above 1 s', 'Performance degradation'),
  ('rpc.latency.info', 'info', 'span_avg_ms', '{"path": "rpc.*"}', '>', 500, 'ms',
   '15 minutes', '0', 20, false, 'RPC response time above 500 ms', null),
  ('registrations.drop.warning', 'warning', 'registration_drop', '{}', '>', 0.50, 'ratio',
   '1 hour', '0', 4, false, 'Registrations down more than 50 % against the last 7 days',
   'User experience issues: test the sign-up flow'),
  ('registrations.zero.critical', 'critical', 'registrations', '{}', '<', 1, 'count',
   '30 minutes', '0', 3, false, 'Zero successful registrations for 30 minutes',
   'Complete system failure: run the smoke test'),
  -- The monitoring runbook's immediate rollback triggers.
  ('rollback.registration_success', 'critical', 'signal_success_rate',
   '{"signal": "auth.registration"}', '<', 0.50, 'ratio', '5 minutes', '15 minutes', 5, false,
   'Registration success below 50 % for 15 minutes', 'Roll back (plan A: auth configuration)'),
  ('rollback.email_delivery', 'critical', 'signal_success_rate', '{"signal": "email.delivery"}',
   '<', 0.30, 'ratio', '5 minutes', '10 minutes', 5, false,
   'Email delivery below 30 % for 10 minutes', 'Roll back (plan A: auth configuration)'),
  ('rollback.deeplink_failure', 'critical', 'signal_failure_rate',
   '{"signal": "deeplink.auth_callback"}', '>', 0.30, 'ratio', '5 minutes', '5 minutes', 5,
   false, 'Deep link failure above 30 % for 5 minutes', 'Roll back (plan A: auth configuration)'),
  ('rollback.rpc_error_rate', 'critical', 'span_error_rate', '{"path": "rpc.*"}', '>', 0.30,
   'ratio', '5 minutes', '5 minutes', 10, false, 'RPC error rate above 30 % for 5 minutes',
   'Roll back (plan B: RPCs)'),
  -- The cutover guide's thresholds.
  ('discovery.backlog_age', 'warning', 'queue_p95_age', '{"queue": "discovery"}', '>', 300,
   'seconds', null, '0', 0, false, 'Discovery backlog p95 age above 300 s',
   'Scale worker concurrency'),
  ('auth.login.p95', 'warning', 'span_p95_ms', '{"path": "auth.login"}', '>', 600, 'ms',
   '1 hour', '0', 20, false, 'auth.login p95 above 600 ms', 'Check DB connections'),
  ('slo.burn_rate', 'critical', 'slo_burn_rate', '{"long_window": "1h"}', '>', 2.0, 'burn',
   null, '0', 0, true, 'Error budget burn rate above 2 on a path over the last hour',
   'Enable safe mode'),
  ('policy.exploration_rate', 'warning', 'exploration_deviation', '{}', '>', 0.5, 'ratio', null,
   '0', 100, false, 'Exploration rate off epsilon by more than 50 %', 'Review bandit config'),
  ('http.5xx_rate', 'critical', 'span_5xx_rate', '{"path": "*"}', '>', 0.01, 'ratio',
   '15 minutes', '0', 100, false, '5xx error rate above 1 %', 'Rollback deployment'),
  ('queue.dead_letters', 'warning', 'dead_letters', '{}', '>', 0, 'count', null, '0', 0, false,
   'Dead-letter queue not empty', 'Inspect vw_dead_letter_queue, then redrive or purge'),
  ('cron.function_failures', 'warning', 'cron_failures', '{}', '>', 0, 'count', null, '0', 0,
   false, 'Cron to function calls failed in the last hour', 'Inspect vw_cron_health'),
  -- The SRE workbook's multiwindow, multi-burn-rate alerts (see ops.slo_window_pairs).
  ('slo.burn.page_1h', 'critical', 'slo_burn_pair', '{"long_window": "1h"}', '>', 14.4, 'burn',
   null, '0', 0, true, '2 % of the 30-day error budget burnt in an hour (14.4x over 1 h and 5 min)',
   'Page: enable safe mode, then find the failing path'),
  ('slo.burn.page_6h', 'critical', 'slo_burn_pair', '{"long_window": "6h"}', '>', 6, 'burn',
   null, '0', 0, true, '5 % of the 30-day error budget burnt in 6 hours (6x over 6 h and 30 min)',
   'Page: enable safe mode, then find the failing path'),
  ('slo.burn.ticket_3d', 'warning', 'slo_burn_pair', '{"long_window": "3d"}', '>', 1, 'burn',
   null, '0', 0, false, '10 % of the 30-day error budget burnt in 3 days (1x over 3 d and 6 h)',
   'Ticket: find the slow burn before the budget is gone');

select pg_catalog.set_config('app.actor', '', true),
       pg_catalog.set_config('app.reason', '', true);

-- Every minute (pg_cron 1.4's finest). Scheduling by name updates the job in place.
select cron.schedule('alerts-evaluate', '* * * * *',
                     'select count(*) from ops.evaluate_alerts()');
