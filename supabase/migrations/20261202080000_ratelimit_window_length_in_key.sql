-- Rate limits: the window length is part of a counter's identity. Counters were keyed by
-- (subject, bucket, window_start) only, so a 60 s and a 3600 s window of one subject and bucket
-- that start at the same instant (every hour on the hour, since windows are epoch-aligned) shared
-- one count: for the first minute of each hour the longer limit could refuse calls the shorter
-- one had used, or the other way round.
--
-- Existing rows are short-lived counters; they are taken to be 60 s windows (the length every
-- caller in this project uses by default), and so is a row written without a length by hand. A
-- counter of another length simply starts afresh once, which admits at most one extra window's
-- worth of calls at deploy time. check_rate_limit always writes the length.
alter table public.rate_limits
  add column window_seconds int not null default 60
    check (window_seconds between 1 and 86400);
alter table public.rate_limits
  drop constraint rate_limits_pkey,
  add primary key (subject, bucket, window_seconds, window_start);

-- As in 20261122020100_ratelimit_rate_limits.sql, with window_seconds in the counter's key (a
-- plpgsql body can only be replaced whole). Same signature, result and grants.
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

  insert into public.rate_limits as r (subject, bucket, window_seconds, window_start, count)
  values (p_subject, p_bucket, p_window_seconds, v_window_start, 1)
  on conflict (subject, bucket, window_seconds, window_start)
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
