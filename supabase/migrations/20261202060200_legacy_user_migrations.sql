-- Legacy migration, part 3: the run log. Every call of the legacy-migration function is one
-- public.user_migrations row: 'running' while it works, then 'completed' or 'failed' with the
-- reason (a dry run ends 'failed' / 'Dry run complete', so it can be rerun). The database, not
-- the function, guarantees at most one running migration per user. docs/legacy-migration.md.


-- =============================================================================================
-- public.user_migrations
-- =============================================================================================

-- One migration run. counts holds what was (or, in a dry run, would have been) moved;
-- phase_ms the duration of each phase (preflight, uploads, write, purge) in milliseconds.
create table public.user_migrations (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  status text not null default 'running' check (status in ('running', 'completed', 'failed')),
  message text check (pg_catalog.length(message) <= 2000),
  dry_run boolean not null default false,
  counts jsonb not null default '{}'::jsonb check (pg_catalog.jsonb_typeof(counts) = 'object'),
  phase_ms jsonb not null default '{}'::jsonb check (pg_catalog.jsonb_typeof(phase_ms) = 'object'),
  started_at timestamptz not null default pg_catalog.now(),
  finished_at timestamptz,
  -- A finished run has its finish time and only a finished run has one.
  check ((status = 'running') = (finished_at is null))
);

comment on table public.user_migrations is
  'Legacy migration runs, one per call: running, then completed or failed (dry runs: failed / '
  'Dry run complete). At most one running row per user. docs/legacy-migration.md.';

-- At most one running migration per user. A second concurrent call fails on this index with
-- 23505, which the function answers as 409; the function itself holds no lock.
create unique index user_migrations_one_running_per_user on public.user_migrations (user_id)
  where status = 'running';
-- A user's runs, newest first (rerun detection, the user's own history, support).
create index user_migrations_user_started_idx on public.user_migrations (user_id, started_at desc);
-- The failed-runs alert and the runbook read recent failures across users.
create index user_migrations_failed_idx on public.user_migrations (finished_at)
  where status = 'failed' and not dry_run;

alter table public.user_migrations enable row level security;

-- Users see their own runs (the app shows the outcome); only the function writes them, through
-- the ops functions below on its own connection, so a user cannot forge a 'completed' row.
create policy user_migrations_read_own on public.user_migrations
  for select to authenticated using (user_id = (select auth.uid()));
-- Operators may close a stuck run by hand; stated although service_role bypasses RLS.
create policy user_migrations_service_all on public.user_migrations
  for all to service_role using (true) with check (true);

revoke all on public.user_migrations from public, anon, authenticated, service_role;
grant select on public.user_migrations to authenticated;
grant select, insert, update, delete on public.user_migrations to service_role;


-- =============================================================================================
-- ops.begin_user_migration / ops.finish_user_migration
-- =============================================================================================

-- Opens a run for p_user_id and answers its id, with when the user's last real run completed
-- (null if never), so a rerun can say it has nothing left to move. A run still 'running' long
-- after any edge function could have (Supabase stops one after at most 400 s of wall clock)
-- was abandoned by a crashed isolate: it is closed as failed first, so it cannot lock the user
-- out forever. A live run makes the insert fail with 23505 on
-- user_migrations_one_running_per_user (the caller answers 409).
create function ops.begin_user_migration(p_user_id uuid, p_dry_run boolean)
returns table (migration_id uuid, last_completed_at timestamptz)
language plpgsql
set search_path = ''
as $$
declare
  abandoned_after constant interval := interval '15 minutes';
  new_id uuid;
begin
  -- GUARD: arguments
  if p_user_id is null then
    raise exception 'p_user_id is required' using errcode = '22023';
  end if;
  if p_dry_run is null then
    raise exception 'p_dry_run is required' using errcode = '22023';
  end if;

  -- GUARD: abandoned runs
  update public.user_migrations m
     set status = 'failed',
         message = 'Abandoned: no result within '
                   || (extract(epoch from abandoned_after) / 60)::int || ' minutes',
         finished_at = pg_catalog.now()
   where m.user_id = p_user_id
     and m.status = 'running'
     and m.started_at < pg_catalog.now() - abandoned_after;

  insert into public.user_migrations (user_id, status, dry_run)
  values (p_user_id, 'running', p_dry_run)
  returning id into new_id;

  return query
  select new_id,
         (select max(m.finished_at) from public.user_migrations m
           where m.user_id = p_user_id and m.status = 'completed' and not m.dry_run);
end
$$;
revoke all on function ops.begin_user_migration(uuid, boolean) from public;

-- Closes run p_migration_id with its outcome. Only a running row can be closed, so an outcome is
-- written once; a run closed meanwhile as abandoned raises P0002.
create function ops.finish_user_migration(
  p_migration_id uuid,
  p_status text,
  p_message text,
  p_counts jsonb,
  p_phase_ms jsonb
)
returns void
language plpgsql
set search_path = ''
as $$
begin
  if p_status is null or p_status not in ('completed', 'failed') then
    raise exception 'p_status must be completed or failed' using errcode = '22023';
  end if;
  update public.user_migrations m
     set status = p_status,
         -- The log keeps the head of a long reason; the function logs it whole.
         message = pg_catalog.left(p_message, 2000),
         counts = coalesce(p_counts, '{}'::jsonb),
         phase_ms = coalesce(p_phase_ms, '{}'::jsonb),
         finished_at = pg_catalog.now()
   where m.id = p_migration_id
     and m.status = 'running';
  if not found then
    raise exception 'migration % is not running', p_migration_id using errcode = 'P0002';
  end if;
end
$$;
revoke all on function ops.finish_user_migration(uuid, text, text, jsonb, jsonb) from public;
