-- Fan-out of worker calls, part 1: what the dispatcher decides from and what it records. Each
-- cron tick of a scheduled worker (ops.dispatch_worker, next migration) issues as many
-- concurrent calls as the runnable backlog needs at the measured per-call rate, within the
-- topic's max_parallel and a global ceiling. This file holds the settings (global and per
-- topic, both ledgered), one row per tick and per call (each call writes its own result), the
-- view operators read (public.vw_queue_dispatches) and the two functions that write settings
-- and results. docs/queue.md, "Scaling out".


-- =============================================================================================
-- ops.queue_dispatch_settings — the global knobs, one row
-- =============================================================================================

-- One row so an operator changes a knob with one UPDATE (ledgered by the trigger below):
--   max_calls_per_tick    the ceiling on worker calls running at once across every topic. The
--                         platform limits what it protects (function invocations, pooler
--                         clients and database connections per compute size): docs/queue.md.
--   default_max_parallel  a topic's max_parallel unless ops.set_queue_parallelism set one.
--   call_budget_ms        how long one call drains (QUEUE_WORKER_BUDGET_MS, drain.ts's 50 s
--                         default): a call can do at most rate × budget jobs in a tick.
--   retention             how long ticks and calls are kept (each tick prunes the oldest,
--                         whatever their topic, so an unscheduled topic's go too).
create table ops.queue_dispatch_settings (
  singleton boolean primary key default true check (singleton),
  max_calls_per_tick int not null default 16 check (max_calls_per_tick between 1 and 1000),
  default_max_parallel int not null default 4 check (default_max_parallel between 1 and 100),
  call_budget_ms int not null default 50000 check (call_budget_ms between 1000 and 400000),
  retention interval not null default interval '7 days' check (retention >= interval '1 day'),
  updated_at timestamptz not null default pg_catalog.now()
);

comment on table ops.queue_dispatch_settings is
  'Worker fan-out settings (one row): the global ceiling on concurrent worker calls, the '
  'default max_parallel, the per-call budget, record retention. Changes are ledgered.';

alter table ops.queue_dispatch_settings enable row level security;
create policy queue_dispatch_settings_service on ops.queue_dispatch_settings
  for all to service_role using (true) with check (true);
revoke all on ops.queue_dispatch_settings from public, anon, authenticated, service_role;
grant select, update on ops.queue_dispatch_settings to service_role;

-- The observability migration's trigger functions are generic (stamp updated_at; ledger any
-- change as <table>.<op> with before/after): every change to how many calls may run is as
-- much a change of system behaviour as an alert rule's.
create trigger queue_dispatch_settings_touch before update on ops.queue_dispatch_settings
  for each row execute function ops.discovery_touch_updated_at();
create trigger queue_dispatch_settings_ledger
  after insert or update or delete on ops.queue_dispatch_settings
  for each row execute function ops.observability_config_changed();

select pg_catalog.set_config('app.actor', 'migration:20261202100000', true),
       pg_catalog.set_config('app.reason', 'default worker fan-out settings', true);
insert into ops.queue_dispatch_settings default values;
select pg_catalog.set_config('app.actor', '', true),
       pg_catalog.set_config('app.reason', '', true);


-- =============================================================================================
-- ops.queue_parallelism — max_parallel per topic
-- =============================================================================================

-- A topic's own max_parallel (the most calls of it running at once). `topic` is the events
-- topic, or 'marketplace_discovery_queue' for rocker-discovery-run. A topic without a row has
-- ops.queue_dispatch_settings.default_max_parallel. Written by ops.set_queue_parallelism;
-- every change is ledgered (target ops.queue_parallelism:<topic>), however it is made.
create table ops.queue_parallelism (
  topic text primary key check (pg_catalog.length(topic) between 1 and 200),
  max_parallel int not null check (max_parallel between 1 and 100),
  updated_at timestamptz not null default pg_catalog.now()
);

comment on table ops.queue_parallelism is
  'max_parallel per worker topic (ops.set_queue_parallelism); others use the default in '
  'ops.queue_dispatch_settings. Changes are ledgered.';

alter table ops.queue_parallelism enable row level security;
create policy queue_parallelism_service on ops.queue_parallelism
  for all to service_role using (true) with check (true);
revoke all on ops.queue_parallelism from public, anon, authenticated, service_role;
grant select, insert, update, delete on ops.queue_parallelism to service_role;

create trigger queue_parallelism_touch before update on ops.queue_parallelism
  for each row execute function ops.discovery_touch_updated_at();
create trigger queue_parallelism_ledger
  after insert or update or delete on ops.queue_parallelism
  for each row execute function ops.observability_config_changed('topic');


-- =============================================================================================
-- ops.queue_dispatch_ticks / ops.queue_dispatch_calls — what each tick did
-- =============================================================================================

-- One row per dispatcher tick of a topic, empty ticks included (so the backlog a busy tick left
-- behind is seen at the next one):
--   parallelism     calls the runnable backlog called for at the measured per-call rate,
--                   capped by the topic's max_parallel (0 when nothing was runnable)
--   calls_issued    calls actually posted: fewer than parallelism when the topic's earlier
--                   calls or the global ceiling left no room
--   backlog_before  runnable rows when the tick ran, counted up to ten ticks' work
--                   (max_parallel × per-call jobs × 10) and at most 100,000
create table ops.queue_dispatch_ticks (
  id bigint generated always as identity primary key,
  topic text not null,
  jobname text not null,
  tick_at timestamptz not null default pg_catalog.now(),
  parallelism int not null check (parallelism >= 0),
  calls_issued int not null check (calls_issued between 0 and parallelism),
  backlog_before bigint not null check (backlog_before >= 0)
);

comment on table ops.queue_dispatch_ticks is
  'One row per worker dispatcher tick: calls wanted and issued, runnable backlog. '
  'public.vw_queue_dispatches.';

-- The view reads one topic's ticks in time order.
create index queue_dispatch_ticks_topic_idx on ops.queue_dispatch_ticks (topic, tick_at, id);
-- Each tick prunes the oldest ticks of every topic, in a bounded batch from the start of this.
create index queue_dispatch_ticks_age_idx on ops.queue_dispatch_ticks (tick_at, id);

alter table ops.queue_dispatch_ticks enable row level security;
create policy queue_dispatch_ticks_service_read on ops.queue_dispatch_ticks
  for select to service_role using (true);
revoke all on ops.queue_dispatch_ticks from public, anon, authenticated, service_role;
grant select on ops.queue_dispatch_ticks to service_role;

-- One row per call a tick posted. `id` travels in the call's body as `call_id`; the worker
-- writes its own result here (ops.record_dispatch_call) before it answers, so the per-call
-- rate the next ticks use comes from what calls really did. `expires_at` is the tick's time
-- plus the call's timeout: until then an unanswered call counts as running (the ceiling's
-- arithmetic). pg_net's own timeout starts only when it sends the request, so when pg_net is
-- backed up a call can still be running after `expires_at`, and the ceiling be overshot by it.
create table ops.queue_dispatch_calls (
  id uuid primary key,
  tick_id bigint not null references ops.queue_dispatch_ticks (id) on delete cascade,
  topic text not null,
  request_id bigint not null,
  issued_at timestamptz not null default pg_catalog.now(),
  expires_at timestamptz not null,
  answered_at timestamptz,
  -- Set by the call's own result only: null on a call that is over without one (answered_at
  -- then stamped by a later tick from pg_net's answer).
  processed int check (processed >= 0),
  errors int check (errors >= 0),
  duration_ms int check (duration_ms >= 0)
);

comment on table ops.queue_dispatch_calls is
  'One row per worker call a dispatcher tick posted, with the result the call recorded '
  '(processed, errors, duration_ms). public.vw_queue_dispatches.';

create index queue_dispatch_calls_tick_idx on ops.queue_dispatch_calls (tick_id);
-- The per-call rate reads a topic's latest answered calls that did work.
create index queue_dispatch_calls_rate_idx on ops.queue_dispatch_calls (topic, answered_at)
  where processed > 0;
-- Running calls: unanswered ones, until pg_net's timeout.
create index queue_dispatch_calls_open_idx on ops.queue_dispatch_calls (expires_at)
  where answered_at is null;

alter table ops.queue_dispatch_calls enable row level security;
create policy queue_dispatch_calls_service_read on ops.queue_dispatch_calls
  for select to service_role using (true);
revoke all on ops.queue_dispatch_calls from public, anon, authenticated, service_role;
grant select on ops.queue_dispatch_calls to service_role;


-- =============================================================================================
-- ops.set_queue_parallelism / ops.record_dispatch_call
-- =============================================================================================

-- Sets p_topic's max_parallel (1-100) and returns the value it replaces (the default when the
-- topic had none). The trigger on ops.queue_parallelism ledgers it with the caller's app.actor
-- and app.reason (the ops CLI sets both). The next tick uses it. service_role and the owner.
create function ops.set_queue_parallelism(p_topic text, p_max_parallel integer)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  previous int;
begin
  -- GUARD: the same bounds as the table, with messages naming the parameter.
  if p_topic is null or pg_catalog.length(p_topic) not between 1 and 200 then
    raise exception 'p_topic must be 1 to 200 characters' using errcode = '22023';
  end if;
  if p_max_parallel is null or p_max_parallel not between 1 and 100 then
    raise exception 'p_max_parallel must be between 1 and 100' using errcode = '22023';
  end if;

  select coalesce(
    (select p.max_parallel from ops.queue_parallelism p where p.topic = p_topic),
    (select s.default_max_parallel from ops.queue_dispatch_settings s))
  into previous;

  insert into ops.queue_parallelism as p (topic, max_parallel)
  values (p_topic, p_max_parallel)
  on conflict (topic) do update set max_parallel = excluded.max_parallel;
  return previous;
end
$$;
revoke all on function ops.set_queue_parallelism(text, integer) from public;
grant execute on function ops.set_queue_parallelism(text, integer) to service_role;

-- A dispatched call's own result: the worker calls this with the `call_id` of its body and the
-- topic it drained (the body's topic, or 'marketplace_discovery_queue') before answering. The
-- call must be one posted for that topic: any service_role caller can put a `call_id` in a
-- body, and must not be able to write its result over another topic's call. First write wins
-- (a retried answer changes nothing); a call the dispatcher already stamped as answered
-- without a result (it outlived pg_net's timeout) still records it. True when it recorded. Owner only: the workers connect as
-- the database owner (SUPABASE_DB_URL).
create function ops.record_dispatch_call(
  p_call_id uuid,
  p_topic text,
  p_processed integer,
  p_errors integer,
  p_duration_ms integer
)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  changed int;
begin
  -- GUARD: counts come from the worker's own answer; negative ones are a bug, not a result.
  if p_call_id is null then
    raise exception 'p_call_id is required' using errcode = '22023';
  end if;
  if p_topic is null then
    raise exception 'p_topic is required' using errcode = '22023';
  end if;
  if p_processed is null or p_processed < 0 or p_errors is null or p_errors < 0
     or p_errors > p_processed or p_duration_ms is null or p_duration_ms < 0 then
    raise exception 'p_processed, p_errors and p_duration_ms must be counts (p_errors <= p_processed)'
      using errcode = '22023';
  end if;

  update ops.queue_dispatch_calls c
     set answered_at = pg_catalog.now(), processed = p_processed, errors = p_errors,
         duration_ms = p_duration_ms
   where c.id = p_call_id and c.topic = p_topic and c.processed is null;
  get diagnostics changed = row_count;
  return changed > 0;
end
$$;
revoke all on function ops.record_dispatch_call(uuid, text, integer, integer, integer) from public;


-- =============================================================================================
-- public.vw_queue_dispatches
-- =============================================================================================

-- Whether pg_net has an answer for request p_request_id: the view's test for a call that is
-- over without recording a result, until a tick stamps it (ops.dispatch_worker). SECURITY
-- DEFINER because service_role cannot read net.*; reviewed: it answers a boolean, never the
-- answer itself.
create function ops.dispatch_request_answered(p_request_id bigint)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (select 1 from net._http_response r where r.id = p_request_id)
$$;
revoke all on function ops.dispatch_request_answered(bigint) from public;
grant execute on function ops.dispatch_request_answered(bigint) to service_role;

-- Recent dispatcher ticks per topic (as long as ops.queue_dispatch_settings.retention keeps
-- them), newest last per topic:
--   parallelism, calls_issued, backlog_before   as the tick recorded them
--   calls_answered                              calls that are over, as the dispatcher counts
--                                               them: they recorded a result, or pg_net has
--                                               their answer (any status, a timeout included;
--                                               a later tick stamps them so they stay counted
--                                               after pg_net drops its answers)
--   processed                                   jobs, summed over the recorded results
--   errors                                      jobs that failed, summed over the recorded
--                                               results, plus one per call that is over
--                                               without a result (refused, failed, timed out,
--                                               or its result write failed)
--   backlog_after                               the runnable backlog at the topic's next tick
--                                               (null until there is one): what this tick's
--                                               calls left, plus what arrived meanwhile
-- service_role only (the ops CLI, dashboards).
create view public.vw_queue_dispatches
with (security_invoker = true)
as
select t.topic, t.tick_at, t.parallelism, t.calls_issued,
       coalesce(c.answered, 0) as calls_answered,
       coalesce(c.processed, 0) as processed,
       coalesce(c.errors, 0) as errors,
       t.backlog_before,
       pg_catalog.lead(t.backlog_before) over (partition by t.topic order by t.tick_at, t.id)
         as backlog_after
from ops.queue_dispatch_ticks t
left join lateral (
  select pg_catalog.count(*) filter (where a.over)::int as answered,
         pg_catalog.sum(d.processed)::bigint as processed,
         (coalesce(pg_catalog.sum(d.errors), 0)
          + pg_catalog.count(*) filter (where a.over and d.processed is null))::bigint as errors
  from ops.queue_dispatch_calls d
  -- Only a call not yet stamped over needs pg_net's answer looked up.
  cross join lateral (
    select d.answered_at is not null
           or ops.dispatch_request_answered(p_request_id => d.request_id) as over
  ) a
  where d.tick_id = t.id
) c on true;

comment on view public.vw_queue_dispatches is
  'Worker dispatcher ticks per topic: calls wanted, issued and answered, jobs processed and '
  'failed, runnable backlog before and at the next tick.';

revoke all on public.vw_queue_dispatches from public, anon, authenticated, service_role;
grant select on public.vw_queue_dispatches to service_role;
