-- Fixed-window rate limits: a counter per (subject, bucket, window), taken atomically by
-- public.check_rate_limit and enforced by the Hono middleware in _shared/rate_limit.ts (429 with
-- Retry-After). Old windows are deleted by a daily pg_cron job. Issue 4.


-- =============================================================================================
-- public.rate_limits
-- =============================================================================================

-- One counter per subject (a user id, an API key id, an IP…), bucket (what is limited, e.g.
-- 'policy-ranker:decide') and fixed window. Windows are aligned to the Unix epoch, so every
-- caller agrees on where a window starts without coordination. Written only by
-- check_rate_limit; a user may read their own counters.
-- UNLOGGED: a counter increment writes no WAL, and a transaction that touched only unlogged
-- tables commits without waiting for a WAL flush, which is what lets a check cost a round trip
-- rather than an fsync (bench/flags.bench.ts). The price is acceptable for rate limiting: after
-- a crash the table starts empty (every window restarts), and it is not copied to read
-- replicas or restored from backups. A caller's own logged writes in the same transaction are
-- still committed durably.
-- fillfactor 70 leaves room on each page so the count increments are HOT updates (no index
-- writes), which is most of what this table does.
create unlogged table public.rate_limits (
  subject text not null,
  bucket text not null,
  window_start timestamptz not null,
  count int not null default 0 check (count >= 0),
  primary key (subject, bucket, window_start)
) with (fillfactor = 70);

comment on table public.rate_limits is
  'Fixed-window rate-limit counters; written only through public.check_rate_limit().';

-- The daily GC deletes by window_start.
create index rate_limits_window_start_idx on public.rate_limits (window_start);

alter table public.rate_limits enable row level security;

-- A signed-in user reads only the counters whose subject is their own id (e.g. to show "N
-- requests left"). `(select auth.uid())` is evaluated once per statement, not per row.
create policy rate_limits_read_own on public.rate_limits
  for select to authenticated using (subject = (select auth.uid())::text);
-- service_role reads everything (ops tools); stated although it bypasses RLS.
create policy rate_limits_service_read on public.rate_limits
  for select to service_role using (true);

revoke all on table public.rate_limits from public, anon, authenticated, service_role;
grant select on table public.rate_limits to authenticated, service_role;


-- =============================================================================================
-- public.check_rate_limit
-- =============================================================================================

-- Takes one unit from (p_subject, p_bucket)'s current window of p_window_seconds and says
-- whether the call is allowed, how many remain, and when the window resets. Atomic under
-- concurrency: INSERT … ON CONFLICT DO UPDATE locks the window's row, and the update's WHERE
-- (count < limit) is evaluated on the latest committed count, so N parallel calls admit exactly
-- p_limit. A refused call does not write (the WHERE fails), so a flood costs no row versions.
-- Time is now() (the transaction's start): each call is its own transaction in practice, and
-- tests get a stable window.
-- SECURITY DEFINER because no API role may write rate_limits directly ("writes only through the
-- function"). Executable by service_role only: with any subject allowed, a user could exhaust
-- someone else's budget. Functions call it on the server with their own connection.
-- Errors (22023): empty subject or bucket, limit < 1, window outside 1..86400 seconds (the
-- daily GC keeps one day of windows, so a longer one would be deleted while still counting).
create or replace function public.check_rate_limit(
  p_subject text,
  p_bucket text,
  p_limit int,
  p_window_seconds int
)
returns table (allowed boolean, remaining int, reset_at timestamptz)
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  v_window_start timestamptz;
  v_count int;
begin
  -- GUARD: arguments
  if p_subject is null or p_subject = '' then
    raise exception 'p_subject must be a non-empty string' using errcode = '22023';
  end if;
  if p_bucket is null or p_bucket = '' then
    raise exception 'p_bucket must be a non-empty string' using errcode = '22023';
  end if;
  if p_limit is null or p_limit < 1 then
    raise exception 'p_limit must be at least 1' using errcode = '22023';
  end if;
  if p_window_seconds is null or p_window_seconds < 1 or p_window_seconds > 86400 then
    raise exception 'p_window_seconds must be between 1 and 86400' using errcode = '22023';
  end if;

  -- date_bin's integer arithmetic, aligned to the epoch (cheaper than numeric epoch maths).
  v_window_start := pg_catalog.date_bin(pg_catalog.make_interval(secs => p_window_seconds),
                                        pg_catalog.now(), '1970-01-01 00:00:00+00'::timestamptz);

  insert into public.rate_limits as r (subject, bucket, window_start, count)
  values (p_subject, p_bucket, v_window_start, 1)
  on conflict (subject, bucket, window_start)
    do update set count = r.count + 1
    where r.count < p_limit
  returning r.count into v_count;

  return query
    select v_count is not null,
           coalesce(p_limit - v_count, 0),
           v_window_start + pg_catalog.make_interval(secs => p_window_seconds);
end
$$;
revoke all on function public.check_rate_limit(text, text, int, int) from public;
grant execute on function public.check_rate_limit(text, text, int, int) to service_role;


-- =============================================================================================
-- Garbage collection: ops.gc_rate_limits and the daily job
-- =============================================================================================

-- Deletes windows that started more than a day ago (check_rate_limit accepts windows of at most
-- a day, so none of them can still be counting) and returns how many rows went. In ops, with
-- no grants: the cron job and operators run it as the owner (postgres), no client does.
create or replace function ops.gc_rate_limits()
returns bigint
language sql
volatile
set search_path = ''
as $$
  with gone as (
    delete from public.rate_limits r
    where r.window_start < pg_catalog.now() - interval '1 day'
    returning 1
  )
  select pg_catalog.count(*) from gone
$$;
revoke all on function ops.gc_rate_limits() from public;

-- Daily at 03:17 UTC, off the top of the hour when other jobs start. Scheduling by name updates
-- the job in place if it already exists, so re-applying is harmless.
select cron.schedule('rate-limits-gc', '17 3 * * *', $$select ops.gc_rate_limits()$$);
