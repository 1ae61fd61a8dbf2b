-- Observability, part 1: what requests and clients report. public.kernel_spans holds one row
-- per function request, RPC and client-reported path; per-minute rollups (maintained by a
-- statement trigger on every insert, whoever inserts) let the SLO views read a minute per row
-- instead of a request per row. public.kernel_signals holds the outcomes only the app can see
-- (email delivered, deep link opened, registration finished). Writers: ops.record_spans
-- (functions and the gateway, service_role), public.record_kernel_span and
-- public.record_client_signal (signed-in clients, validated and rate limited).
-- docs/observability.md.


-- =============================================================================================
-- ops.observability_settings — retention and the client rate limits, one row
-- =============================================================================================

-- One row so an operator changes a knob with one UPDATE, and the change is ledgered (trigger
-- below). Retention: raw spans and latency histograms (drill-down and the last hour's
-- percentiles), minute rollups (burn rates need 3 days; 35 leave room for a 30-day error-budget
-- report), client signals (24-hour stability targets and the 7-day registration baseline), and
-- cron run history (cron.job_run_details grows without bound unless pruned). Client limits are
-- per signed-in user per window, for record_kernel_span and record_client_signal separately.
create table ops.observability_settings (
  singleton boolean primary key default true check (singleton),
  span_retention interval not null default interval '7 days'
    check (span_retention >= interval '1 day'),
  rollup_retention interval not null default interval '35 days'
    check (rollup_retention >= interval '4 days'),
  signal_retention interval not null default interval '35 days'
    check (signal_retention >= interval '8 days'),
  cron_history_retention interval not null default interval '7 days'
    check (cron_history_retention >= interval '1 day'),
  client_span_limit int not null default 120 check (client_span_limit between 1 and 100000),
  client_signal_limit int not null default 60 check (client_signal_limit between 1 and 100000),
  client_window_seconds int not null default 60
    check (client_window_seconds between 1 and 86400),
  updated_at timestamptz not null default pg_catalog.now()
);

comment on table ops.observability_settings is
  'Observability settings (one row): retention of spans, rollups, signals and cron history; '
  'client telemetry rate limits. Changes are ledgered. docs/observability.md.';

alter table ops.observability_settings enable row level security;
create policy observability_settings_service on ops.observability_settings
  for all to service_role using (true) with check (true);
revoke all on ops.observability_settings from public, anon, authenticated, service_role;
grant select, update on ops.observability_settings to service_role;

-- The observability settings, objectives (kernel_slos) and alert rules decide what data is
-- deleted, how much a client may send, when pages go out and when safe mode may be thrown:
-- every change to them is ledgered (action <table>.<op>, target <table>, or <table>:<key> when
-- the trigger names its key column as argument). Invoker rights: only the owner and
-- service_role can write these tables, and both may call record_ai_action.
create function ops.observability_config_changed()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform public.record_ai_action(
    p_action => tg_table_name || '.' || pg_catalog.lower(tg_op),
    p_target => tg_table_schema || '.' || tg_table_name
      || coalesce(':' || (coalesce(pg_catalog.to_jsonb(new), pg_catalog.to_jsonb(old))
                          ->> tg_argv[0]), ''),
    p_before => pg_catalog.to_jsonb(old),
    p_after => pg_catalog.to_jsonb(new));
  return null;
end
$$;
revoke all on function ops.observability_config_changed() from public;

-- updated_at is stamped by the generic trigger function the discovery migration defined.
create trigger observability_settings_touch before update on ops.observability_settings
  for each row execute function ops.discovery_touch_updated_at();
create trigger observability_settings_ledger
  after insert or update or delete on ops.observability_settings
  for each row execute function ops.observability_config_changed();

select pg_catalog.set_config('app.actor', 'migration:20261202040000', true),
       pg_catalog.set_config('app.reason', 'default observability settings', true);
insert into ops.observability_settings default values;
select pg_catalog.set_config('app.actor', '', true),
       pg_catalog.set_config('app.reason', '', true);


-- =============================================================================================
-- Latency buckets
-- =============================================================================================

-- The latency histogram's bucket for a duration: bucket 0 is [0, 0.1 ms); bucket b >= 1 is
-- [0.1·2^((b-1)/16), 0.1·2^(b/16)) ms, 16 buckets per doubling, so a bucket is 4.4 % wide and a
-- percentile read off the histogram is within 4.4 % of the true value; bucket 400 (from about
-- 56 minutes) is open-ended. Log-spaced so one scheme covers 0.1 ms RPCs and 60 s workers.
create function ops.latency_bucket(p_ms double precision)
returns smallint
language sql
immutable
strict
parallel safe
set search_path = ''
as $$
  select case when p_ms < 0.1 then 0
              else least(400, 1 + pg_catalog.floor(16 * pg_catalog.ln(p_ms / 0.1)
                                                   / pg_catalog.ln(2::double precision)))
         end::smallint
$$;
revoke all on function ops.latency_bucket(double precision) from public;
grant execute on function ops.latency_bucket(double precision) to service_role;

-- Bucket p_bucket's lower bound in ms (0 for bucket 0).
create function ops.latency_bucket_lower(p_bucket smallint)
returns double precision
language sql
immutable
strict
parallel safe
set search_path = ''
as $$
  select case when p_bucket <= 0 then 0
              else 0.1 * pg_catalog.power(2::double precision, (p_bucket - 1) / 16.0) end
$$;
revoke all on function ops.latency_bucket_lower(smallint) from public;
grant execute on function ops.latency_bucket_lower(smallint) to service_role;

-- Bucket p_bucket's upper bound in ms (infinity for the open-ended last bucket).
create function ops.latency_bucket_upper(p_bucket smallint)
returns double precision
language sql
immutable
strict
parallel safe
set search_path = ''
as $$
  select case when p_bucket >= 400 then 'Infinity'::double precision
              else 0.1 * pg_catalog.power(2::double precision, p_bucket / 16.0) end
$$;
revoke all on function ops.latency_bucket_upper(smallint) from public;
grant execute on function ops.latency_bucket_upper(smallint) to service_role;

-- =============================================================================================
-- public.kernel_spans
-- =============================================================================================

-- One row per request: `path` is the SLO key (a function's name such as 'queue-worker',
-- 'rpc.<fn>' for an RPC through the gateway, a client path such as 'auth.login'); `function`
-- and `route` say where it ran (the route pattern, never the raw URL); `status` is the HTTP
-- status when there was one; `ok` is whether it counts as good for the availability objective
-- (the writer decides: functions count anything but a 5xx). `user_id` is set only for spans a
-- signed-in client reported itself (record_kernel_span), so forged client telemetry can be
-- traced and filtered. Rows are append-only in practice: the rollups below are maintained on
-- insert only, so an UPDATE or DELETE of recent rows would make them disagree (the daily prune
-- deletes whole minutes older than every window a view reads).
create table public.kernel_spans (
  id bigint generated always as identity primary key,
  at timestamptz not null default pg_catalog.now(),
  path text not null,
  function text,
  route text,
  status int,
  duration_ms real not null check (duration_ms >= 0),
  ok boolean not null,
  user_id uuid,
  -- The latency histogram bucket, computed once on insert: the views bucket the raw spans of
  -- a window's partial minutes on every read, and a function call per row would dominate.
  bucket smallint not null generated always as (ops.latency_bucket(duration_ms)) stored
);

comment on table public.kernel_spans is
  'Request spans (function requests, RPCs, client-reported paths). Written through '
  'ops.record_spans / public.record_kernel_span. docs/observability.md.';

-- Drill-down by path over time, and the views' partial-minute reads and the prune by time.
create index kernel_spans_path_at_idx on public.kernel_spans (path, at);
create index kernel_spans_at_idx on public.kernel_spans (at);

alter table public.kernel_spans enable row level security;
-- service_role (ops tools, the metrics endpoint) reads spans; writes go through the functions.
create policy kernel_spans_service_read on public.kernel_spans
  for select to service_role using (true);
revoke all on table public.kernel_spans from public, anon, authenticated, service_role;
grant select on table public.kernel_spans to service_role;


-- =============================================================================================
-- Per-minute rollups
-- =============================================================================================

-- Exact per-minute totals per path: what the burn rates, error rates and averages sum over a
-- window instead of reading every span. `statused` counts spans that carried an HTTP status and
-- `server_errors` those with a 5xx (the 5xx-rate alert). Minutes are aligned to the epoch
-- (date_bin), so no session time zone moves them. fillfactor 70: the current minute's rows are
-- updated by every batch, and free room on the page keeps those updates HOT.
create table ops.kernel_span_minutes (
  minute timestamptz not null,
  path text not null,
  requests bigint not null,
  errors bigint not null,
  statused bigint not null,
  server_errors bigint not null,
  sum_ms double precision not null,
  min_ms real not null,
  max_ms real not null,
  primary key (minute, path)
) with (fillfactor = 70);

comment on table ops.kernel_span_minutes is
  'Per-minute span totals per path, maintained on insert into public.kernel_spans.';

-- Per-minute latency histogram per path (only the buckets that have spans): what the
-- percentiles of the last hour are read from.
create table ops.kernel_span_buckets (
  minute timestamptz not null,
  path text not null,
  bucket smallint not null,
  requests bigint not null,
  primary key (minute, path, bucket)
) with (fillfactor = 70);

comment on table ops.kernel_span_buckets is
  'Per-minute latency histogram per path (ops.latency_bucket), maintained on insert into '
  'public.kernel_spans.';

alter table ops.kernel_span_minutes enable row level security;
alter table ops.kernel_span_buckets enable row level security;
create policy kernel_span_minutes_service_read on ops.kernel_span_minutes
  for select to service_role using (true);
create policy kernel_span_buckets_service_read on ops.kernel_span_buckets
  for select to service_role using (true);
revoke all on ops.kernel_span_minutes, ops.kernel_span_buckets
  from public, anon, authenticated, service_role;
grant select on ops.kernel_span_minutes, ops.kernel_span_buckets to service_role;

-- AFTER INSERT, once per statement: folds the statement's new spans into both rollups with one
-- upsert each, so a batch of 1,000 spans costs two statements, not 2,000. Rows are upserted in
-- key order, so two concurrent batches lock shared rows in the same order and cannot deadlock.
-- Invoker rights: the writers are the owner and the SECURITY DEFINER functions below (owner).
create function ops.kernel_spans_rollup()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  insert into ops.kernel_span_minutes as m
    (minute, path, requests, errors, statused, server_errors, sum_ms, min_ms, max_ms)
  select pg_catalog.date_bin('1 minute', n.at, '2000-01-01 00:00:00+00'), n.path,
         pg_catalog.count(*), pg_catalog.count(*) filter (where not n.ok),
         pg_catalog.count(n.status), pg_catalog.count(*) filter (where n.status >= 500),
         sum(n.duration_ms::double precision), min(n.duration_ms), max(n.duration_ms)
  from new_spans n
  group by 1, 2
  order by 1, 2
  on conflict (minute, path) do update
    set requests = m.requests + excluded.requests,
        errors = m.errors + excluded.errors,
        statused = m.statused + excluded.statused,
        server_errors = m.server_errors + excluded.server_errors,
        sum_ms = m.sum_ms + excluded.sum_ms,
        min_ms = least(m.min_ms, excluded.min_ms),
        max_ms = greatest(m.max_ms, excluded.max_ms);

  insert into ops.kernel_span_buckets as b (minute, path, bucket, requests)
  select pg_catalog.date_bin('1 minute', n.at, '2000-01-01 00:00:00+00'), n.path, n.bucket,
         pg_catalog.count(*)
  from new_spans n
  group by 1, 2, 3
  order by 1, 2, 3
  on conflict (minute, path, bucket) do update
    set requests = b.requests + excluded.requests;
  return null;
end
$$;
revoke all on function ops.kernel_spans_rollup() from public;

create trigger kernel_spans_rollup
  after insert on public.kernel_spans
  referencing new table as new_spans
  for each statement execute function ops.kernel_spans_rollup();


-- =============================================================================================
-- ops.record_spans — the service-side batch writer
-- =============================================================================================

-- Whether p_path is a span path: a lowercase first segment (a function slug or a namespace such
-- as rpc or auth), then dot-separated segments; at most 100 characters. Paths are the SLO views'
-- group key, so they must stay a small, readable set.
create function ops.is_span_path(p_path text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select coalesce(pg_catalog.length(p_path) <= 100
                  and p_path ~ '^[a-z][a-z0-9_-]*(\.[A-Za-z0-9_-]+)*$', false)
$$;
revoke all on function ops.is_span_path(text) from public;
grant execute on function ops.is_span_path(text) to service_role;

-- What is wrong with span element p_span (numbered p_index from 0 in the caller's array), as a
-- message naming the field, or null when it is acceptable. `at` is an ISO 8601 timestamp with a
-- zone (what Date.toISOString() writes) within the last day and at most 5 minutes ahead: the
-- writers buffer for seconds, and the rollups' windows look back at most 3 days.
create function ops.span_problem(p_span jsonb, p_index bigint)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  field text := pg_catalog.format('p_spans[%s]', p_index);
  at_value timestamptz;
begin
  if pg_catalog.jsonb_typeof(p_span) is distinct from 'object' then
    return field || ' must be an object';
  end if;
  if pg_catalog.jsonb_typeof(p_span -> 'path') is distinct from 'string'
     or not ops.is_span_path(p_span ->> 'path') then
    return field || '.path must be a dotted lowercase path of at most 100 characters';
  end if;
  if coalesce(pg_catalog.jsonb_typeof(p_span -> 'function'), 'null') not in ('null', 'string')
     or pg_catalog.length(p_span ->> 'function') > 100 then
    return field || '.function must be a string of at most 100 characters';
  end if;
  if coalesce(pg_catalog.jsonb_typeof(p_span -> 'route'), 'null') not in ('null', 'string')
     or pg_catalog.length(p_span ->> 'route') > 200 then
    return field || '.route must be a string of at most 200 characters';
  end if;
  if coalesce(pg_catalog.jsonb_typeof(p_span -> 'status'), 'null') not in ('null', 'number')
     or (p_span ->> 'status') !~ '^[1-5][0-9][0-9]$' then
    return field || '.status must be an HTTP status from 100 to 599';
  end if;
  -- Two statements: the cast must not run before its type guard.
  if pg_catalog.jsonb_typeof(p_span -> 'duration_ms') is distinct from 'number' then
    return field || '.duration_ms must be a number from 0 to 3600000';
  end if;
  if (p_span ->> 'duration_ms')::double precision not between 0 and 3600000 then
    return field || '.duration_ms must be a number from 0 to 3600000';
  end if;
  if pg_catalog.jsonb_typeof(p_span -> 'ok') is distinct from 'boolean' then
    return field || '.ok must be a boolean';
  end if;
  if coalesce(pg_catalog.jsonb_typeof(p_span -> 'at'), 'null') <> 'null' then
    if pg_catalog.jsonb_typeof(p_span -> 'at') <> 'string'
       or (p_span ->> 'at') !~
            '^\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d(:?\d\d)?)$' then
      return field || '.at must be an ISO 8601 timestamp with a time zone';
    end if;
    begin
      at_value := (p_span ->> 'at')::timestamptz;
    exception when datetime_field_overflow or invalid_datetime_format then
      return field || '.at must be an ISO 8601 timestamp with a time zone';
    end;
    if at_value < pg_catalog.now() - interval '1 day'
       or at_value > pg_catalog.now() + interval '5 minutes' then
      return field || '.at must be within the last day and at most 5 minutes ahead';
    end if;
  end if;
  return null;
end
$$;
revoke all on function ops.span_problem(jsonb, bigint) from public;
grant execute on function ops.span_problem(jsonb, bigint) to service_role;

-- Inserts a batch of spans, a JSON array of {path, function?, route?, status?, duration_ms, ok,
-- at?} (at defaults to now()), in one statement, and returns how many were inserted. The whole
-- batch is refused (22023, naming the first bad element's field) when any element is invalid,
-- so a writer bug is loud instead of half-recorded; at most 1,000 spans per call bound the
-- statement. SECURITY DEFINER so service_role writes spans only through this validation (it
-- holds no INSERT on the table); executable by service_role and the owner.
create function ops.record_spans(p_spans jsonb)
returns int
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  problem text;
  inserted int;
begin
  -- GUARD: shape and size of the batch, then each element.
  if p_spans is null or pg_catalog.jsonb_typeof(p_spans) <> 'array' then
    raise exception 'p_spans must be a JSON array of spans' using errcode = '22023';
  end if;
  if pg_catalog.jsonb_array_length(p_spans) > 1000 then
    raise exception 'p_spans must hold at most 1000 spans' using errcode = '22023';
  end if;
  select x.problem into problem
  from (select ops.span_problem(e.span, e.ord - 1) as problem, e.ord
          from pg_catalog.jsonb_array_elements(p_spans) with ordinality as e(span, ord)) x
  where x.problem is not null
  order by x.ord
  limit 1;
  if problem is not null then
    raise exception '%', problem using errcode = '22023';
  end if;

  insert into public.kernel_spans (at, path, function, route, status, duration_ms, ok)
  select coalesce((e.span ->> 'at')::timestamptz, pg_catalog.now()),
         e.span ->> 'path', e.span ->> 'function', e.span ->> 'route',
         (e.span ->> 'status')::int, (e.span ->> 'duration_ms')::real,
         (e.span ->> 'ok')::boolean
  from pg_catalog.jsonb_array_elements(p_spans) as e(span);
  get diagnostics inserted = row_count;
  return inserted;
end
$$;
revoke all on function ops.record_spans(jsonb) from public;
grant execute on function ops.record_spans(jsonb) to service_role;


-- =============================================================================================
-- Client telemetry guards: who may report, and how often
-- =============================================================================================

-- Takes one unit of the caller's client telemetry budget (p_kind 'span' or 'signal', limits in
-- ops.observability_settings) and returns the caller's user id. Raises 42501 when there is no
-- signed-in user, and PT429 (PostgREST answers HTTP 429) when the budget is spent, with the
-- seconds until the window resets in the message. Called by the SECURITY DEFINER client
-- functions below, which is what lets it use check_rate_limit (service_role and the owner only).
create function ops.take_client_telemetry_budget(p_kind text)
returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
  uid uuid := nullif(ops.request_jwt_claims() ->> 'sub', '')::uuid;
  settings ops.observability_settings;
  check_row record;
begin
  if uid is null or coalesce(ops.request_jwt_claims() ->> 'role', '') <> 'authenticated' then
    raise exception 'a signed-in user is required' using errcode = '42501';
  end if;
  select * into settings from ops.observability_settings s;
  select * into check_row
  from public.check_rate_limit(
    p_subject => uid::text,
    p_bucket => 'telemetry:' || p_kind,
    p_limit => case p_kind when 'span' then settings.client_span_limit
                           else settings.client_signal_limit end,
    p_window_seconds => settings.client_window_seconds);
  if not check_row.allowed then
    raise exception 'rate limit exceeded: retry in % s',
      greatest(1, pg_catalog.ceil(extract(epoch from check_row.reset_at - pg_catalog.now())))
      using errcode = 'PT429';
  end if;
  return uid;
end
$$;
revoke all on function ops.take_client_telemetry_budget(text) from public;


-- =============================================================================================
-- public.record_kernel_span — a signed-in client reports one of its own paths
-- =============================================================================================

-- Records one span for the calling user: p_path is the client's own path ('auth.login',
-- 'auth.signup', …: a lowercase namespace and at least one more dot-separated segment, at most
-- 100 characters, never 'rpc.*', which only the gateway records), p_duration_ms from 0 to
-- 3,600,000, p_ok whether it succeeded. Rate limited per user (client_span_limit per
-- client_window_seconds). Errors: 22023 naming the parameter, 42501 without a signed-in user,
-- PT429 over the limit. SECURITY DEFINER: clients hold no rights on kernel_spans, and the limit
-- goes through check_rate_limit; reviewed: it writes one row stamped with the caller's own id.
create function public.record_kernel_span(p_path text, p_duration_ms real, p_ok boolean)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  uid uuid;
begin
  -- GUARD: arguments first, so a malformed call costs no budget.
  if p_path is null or pg_catalog.length(p_path) > 100
     or p_path !~ '^[a-z][a-z0-9_]*(\.[a-z0-9_-]+)+$' or p_path like 'rpc.%' then
    raise exception 'p_path must be a dotted lowercase client path such as auth.login (at most 100 characters, not rpc.*)'
      using errcode = '22023';
  end if;
  if p_duration_ms is null or not (p_duration_ms between 0 and 3600000) then
    raise exception 'p_duration_ms must be a number from 0 to 3600000' using errcode = '22023';
  end if;
  if p_ok is null then
    raise exception 'p_ok must be true or false' using errcode = '22023';
  end if;
  uid := ops.take_client_telemetry_budget('span');

  insert into public.kernel_spans (path, duration_ms, ok, user_id)
  values (p_path, p_duration_ms, p_ok, uid);
end
$$;
revoke all on function public.record_kernel_span(text, real, boolean) from public;
grant execute on function public.record_kernel_span(text, real, boolean) to authenticated;


-- =============================================================================================
-- public.kernel_signals and public.record_client_signal
-- =============================================================================================

-- One row per outcome a client observed that no server sees: 'email.delivery' (the email
-- arrived within 30 s), 'deeplink.auth_callback' (the auth callback link opened the app),
-- 'auth.registration' (sign-up finished). A separate table rather than zero-length spans, so
-- these never skew the latency percentiles or the per-path request counts; their targets are
-- the 24-hour stability targets in kernel_slos and the alert rules that read them.
create table public.kernel_signals (
  id bigint generated always as identity primary key,
  at timestamptz not null default pg_catalog.now(),
  name text not null,
  ok boolean not null,
  user_id uuid
);

comment on table public.kernel_signals is
  'Client-observed outcomes (email delivery, deep links, registration). Written through '
  'public.record_client_signal. docs/observability.md.';

-- The alert rules and stability views count one name over a time window.
create index kernel_signals_name_at_idx on public.kernel_signals (name, at);
create index kernel_signals_at_idx on public.kernel_signals (at);

alter table public.kernel_signals enable row level security;
create policy kernel_signals_service_read on public.kernel_signals
  for select to service_role using (true);
revoke all on table public.kernel_signals from public, anon, authenticated, service_role;
grant select on table public.kernel_signals to service_role;

-- The signal names clients may report. A function rather than a constant in each caller: the
-- alert rules validate their `signal` parameter against the same list.
create function ops.client_signal_names()
returns text[]
language sql
immutable
parallel safe
set search_path = ''
as $$
  select array['auth.registration', 'deeplink.auth_callback', 'email.delivery']
$$;
revoke all on function ops.client_signal_names() from public;
grant execute on function ops.client_signal_names() to service_role;

-- Records one client signal for the calling user. p_name is one of ops.client_signal_names();
-- p_ok whether the outcome was good. Same guards as record_kernel_span: signed-in users only,
-- rate limited per user (client_signal_limit per client_window_seconds), 22023 / 42501 / PT429.
-- SECURITY DEFINER for the same reasons, reviewed the same way.
create function public.record_client_signal(p_name text, p_ok boolean)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  uid uuid;
begin
  if p_name is null or not p_name = any (ops.client_signal_names()) then
    raise exception 'p_name must be one of: %',
      pg_catalog.array_to_string(ops.client_signal_names(), ', ') using errcode = '22023';
  end if;
  if p_ok is null then
    raise exception 'p_ok must be true or false' using errcode = '22023';
  end if;
  uid := ops.take_client_telemetry_budget('signal');

  insert into public.kernel_signals (name, ok, user_id) values (p_name, p_ok, uid);
end
$$;
revoke all on function public.record_client_signal(text, boolean) from public;
grant execute on function public.record_client_signal(text, boolean) to authenticated;
