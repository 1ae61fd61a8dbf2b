-- The two leased work queues: public.events_queue (topic-based jobs) and
-- public.marketplace_discovery_queue (one row per user × interest to discover). Same shape and
-- life cycle (DESIGN §6):
--
--   queued --lease--> processing --ack--> done
--     ^                   |  \--fail, attempts < max_attempts--> queued (run_at = now + backoff)
--     |                   |   \-fail, attempts = max_attempts--> error (the dead-letter queue)
--     +--lease expired----+   (claimed again by the next lease, or requeued by maintenance)
--
-- Names and columns are the operators' contract (the runbook SQL in docs/queue.md pastes them).
-- Only service_role (workers) and postgres (the SQL editor, cron) touch these tables.


-- =============================================================================================
-- public.events_queue
-- =============================================================================================

-- Background jobs by topic (`discovery.user-signup`, …). The queue-worker function leases a
-- topic's jobs and runs the handler registered for that topic.
create table public.events_queue (
  id bigint generated always as identity primary key,
  -- What handler runs the job. Dotted lower-case names by convention; the cap keeps a runaway
  -- caller from turning the claim index into a store of megabyte keys.
  topic text not null check (pg_catalog.length(topic) between 1 and 200),
  payload jsonb not null default '{}'::jsonb,
  -- Optional idempotency key: while a job with this key is queued or processing, enqueueing the
  -- same key for the same topic returns that job instead of adding another.
  dedupe_key text check (dedupe_key is null or pg_catalog.length(dedupe_key) between 1 and 512),
  status text not null default 'queued'
    check (status in ('queued', 'processing', 'done', 'error')),
  -- Leases taken so far (incremented by each lease, so a worker that vanishes still uses one).
  attempts integer not null default 0 check (attempts >= 0),
  max_attempts integer not null default 5 check (max_attempts between 1 and 100),
  -- Lower runs first.
  priority integer not null default 0,
  -- Not claimable before this; failures push it forward by the backoff.
  run_at timestamptz not null default pg_catalog.now(),
  -- One uuid per lease call: ack and fail must present it, which is what fences out a worker
  -- whose lease expired and whose rows another worker has since claimed.
  lease_token uuid,
  lease_expires_at timestamptz,
  -- The worker that took the current (or last) lease, for operators reading pg tables.
  leased_by text,
  last_error text,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  -- A processing row always has a lease; without one it could never expire and would be stuck.
  constraint events_queue_processing_has_lease
    check (status <> 'processing' or (lease_token is not null and lease_expires_at is not null))
);
-- Every job is updated at least twice (lease, then ack or fail), and a status change cannot be a
-- HOT update (status is in the partial indexes' predicates). Free room on each page lets the
-- new row version stay on its page: one page touched and logged per update instead of two.
-- Measured on 2 cores: lease of 100 and ack of 100 each ~10-15 % faster at 70 than at 100.
alter table public.events_queue set (fillfactor = 70);

comment on table public.events_queue is
  'Leased job queue by topic. status=error is the dead-letter queue. See docs/queue.md.';

-- The claim predicate's index: only claimable rows are in it, in claim order, so the millions
-- of done rows a busy queue accumulates never slow a lease.
create index events_queue_claim_idx on public.events_queue (topic, priority, run_at, id)
  where status = 'queued';

-- Expired leases are claimable too; this finds them without touching queued or done rows.
create index events_queue_lease_expiry_idx on public.events_queue (topic, lease_expires_at)
  where status = 'processing';

-- The health view's queued ages (vw_events_queue_health): queued rows in the order they became
-- runnable, so the oldest and the 95th-percentile age are read at an index offset instead of
-- sorting every queued row, and the exact count is an index-only scan (the INCLUDEd columns let
-- Postgres answer the expression without visiting the heap).
create index events_queue_queued_since_idx
  on public.events_queue (topic, (greatest(run_at, created_at))) include (run_at, created_at)
  where status = 'queued';

-- Dedupe: at most one active job per (topic, dedupe_key). Finished jobs leave the index, so
-- the key can be reused once its job is done or dead.
create unique index events_queue_active_dedupe_key on public.events_queue (topic, dedupe_key)
  where dedupe_key is not null and status in ('queued', 'processing');

-- The dead-letter queue is read newest first (vw_dead_letter_queue) and is small.
create index events_queue_dead_letter_idx on public.events_queue (updated_at)
  where status = 'error';

alter table public.events_queue enable row level security;
-- No policies: service_role has BYPASSRLS, and no other API role has any grant. RLS stays on so
-- that a future grant to anon/authenticated exposes nothing until a policy says what.
revoke all on table public.events_queue from public, anon, authenticated, service_role;
grant select, insert, update, delete on table public.events_queue to service_role;


-- =============================================================================================
-- public.marketplace_discovery_queue
-- =============================================================================================

-- One discovery run per (user, interest): rocker-discovery-run leases these and looks for
-- marketplace categories and candidates for the interest.
create table public.marketplace_discovery_queue (
  id bigint generated always as identity primary key,
  -- The interest catalog lands with the discovery issue, so no foreign key here (yet).
  interest_id uuid not null,
  -- A deleted user's pending discovery work goes with them.
  user_id uuid not null references auth.users (id) on delete cascade,
  status text not null default 'queued'
    check (status in ('queued', 'processing', 'done', 'error')),
  attempts integer not null default 0 check (attempts >= 0),
  max_attempts integer not null default 5 check (max_attempts between 1 and 100),
  priority integer not null default 0,
  run_at timestamptz not null default pg_catalog.now(),
  lease_token uuid,
  lease_expires_at timestamptz,
  leased_by text,
  last_error text,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  constraint marketplace_discovery_queue_processing_has_lease
    check (status <> 'processing' or (lease_token is not null and lease_expires_at is not null))
);
alter table public.marketplace_discovery_queue set (fillfactor = 70); -- as for events_queue

comment on table public.marketplace_discovery_queue is
  'Leased discovery work per (user, interest). status=error is the dead-letter queue. See docs/queue.md.';

-- Same partial indexes as events_queue (claim, expiry, queued age), without the topic.
create index marketplace_discovery_queue_claim_idx
  on public.marketplace_discovery_queue (priority, run_at, id)
  where status = 'queued';

create index marketplace_discovery_queue_lease_expiry_idx
  on public.marketplace_discovery_queue (lease_expires_at)
  where status = 'processing';

create index marketplace_discovery_queue_queued_since_idx
  on public.marketplace_discovery_queue ((greatest(run_at, created_at)))
  include (run_at, created_at)
  where status = 'queued';

-- At most one active item per (user, interest): enqueueing twice (a retried signup, a second
-- trigger) is `on conflict do nothing` against this index rather than duplicate work.
create unique index marketplace_discovery_queue_active_item_key
  on public.marketplace_discovery_queue (user_id, interest_id)
  where status in ('queued', 'processing');

-- The foreign key's cascade on auth.users deletes looks rows up by user.
create index marketplace_discovery_queue_user_idx
  on public.marketplace_discovery_queue (user_id);

create index marketplace_discovery_queue_dead_letter_idx
  on public.marketplace_discovery_queue (updated_at)
  where status = 'error';

alter table public.marketplace_discovery_queue enable row level security;
-- No policies, as for events_queue: service_role only.
revoke all on table public.marketplace_discovery_queue from public, anon, authenticated, service_role;
grant select, insert, update, delete on table public.marketplace_discovery_queue to service_role;
