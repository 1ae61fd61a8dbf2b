-- Observability, part 4: the authentication metrics of the monitoring runbook, as views that
-- answer exactly what its two queries over auth.users answer (same columns, grouping, rounding
-- and order; DATE() of a timestamptz follows the session's TimeZone in both), plus the
-- registration counts the alert rules read. service_role only. docs/observability.md.


-- =============================================================================================
-- public.vw_auth_registrations_daily
-- =============================================================================================

-- Users created in the 7 days before p_now, per creation date: how many, how many confirmed
-- their email, and the confirmation rate in percent (2 decimals), newest date first. The
-- runbook's "Registration Success Rate" query with NOW() as p_now. SECURITY DEFINER because no
-- API role reads auth.users; reviewed: it returns per-day counts only, no user data.
create function ops.auth_registrations_daily(p_now timestamptz)
returns table (date date, total_registrations bigint, confirmed bigint,
               confirmation_rate numeric)
language sql
stable
security definer
set search_path = ''
as $$
  select u.created_at::date,
         pg_catalog.count(*),
         pg_catalog.count(case when u.email_confirmed_at is not null then 1 end),
         pg_catalog.round(pg_catalog.count(case when u.email_confirmed_at is not null then 1 end)
                          * 100.0 / pg_catalog.count(*), 2)
  from auth.users u
  where u.created_at >= p_now - interval '7 days'
  group by u.created_at::date
  order by 1 desc
$$;
revoke all on function ops.auth_registrations_daily(timestamptz) from public;
grant execute on function ops.auth_registrations_daily(timestamptz) to service_role;

create view public.vw_auth_registrations_daily
with (security_invoker = true)
as
select r.date, r.total_registrations, r.confirmed, r.confirmation_rate
from ops.auth_registrations_daily(pg_catalog.now()) as r;

comment on view public.vw_auth_registrations_daily is
  'Registrations per day over the last 7 days: total, confirmed, confirmation_rate (%).';

revoke all on public.vw_auth_registrations_daily from public, anon, authenticated, service_role;
grant select on public.vw_auth_registrations_daily to service_role;


-- =============================================================================================
-- public.vw_auth_failure_rate
-- =============================================================================================

-- Users created in the 24 hours before p_now, per creation date: how many, how many have never
-- signed in (the runbook counts them as failed sign-ins), and that share in percent (2
-- decimals). The runbook's "Authentication Error Rate" query with NOW() as p_now; like it, the
-- rows come in no particular order. Note what it measures: accounts still waiting for their
-- first sign-in (unconfirmed ones included), not rejected passwords; the alert rules read
-- failed auth.login spans instead. SECURITY DEFINER and reviewed as above.
create function ops.auth_failure_rate(p_now timestamptz)
returns table (date date, total_attempts bigint, failed_signins bigint, failure_rate numeric)
language sql
stable
security definer
set search_path = ''
as $$
  select u.created_at::date,
         pg_catalog.count(*),
         pg_catalog.count(case when u.last_sign_in_at is null then 1 end),
         pg_catalog.round(pg_catalog.count(case when u.last_sign_in_at is null then 1 end)
                          * 100.0 / pg_catalog.count(*), 2)
  from auth.users u
  where u.created_at >= p_now - interval '24 hours'
  group by u.created_at::date
$$;
revoke all on function ops.auth_failure_rate(timestamptz) from public;
grant execute on function ops.auth_failure_rate(timestamptz) to service_role;

create view public.vw_auth_failure_rate
with (security_invoker = true)
as
select f.date, f.total_attempts, f.failed_signins, f.failure_rate
from ops.auth_failure_rate(pg_catalog.now()) as f;

comment on view public.vw_auth_failure_rate is
  'Users created in the last 24 hours per day: total, never signed in, failure_rate (%).';

revoke all on public.vw_auth_failure_rate from public, anon, authenticated, service_role;
grant select on public.vw_auth_failure_rate to service_role;


-- =============================================================================================
-- Registration counts for the alert rules
-- =============================================================================================

-- Users created in (p_now − p_window, p_now], and the baseline: the mean count per window of the
-- same length over the 7 days before that window. The registration-drop and
-- zero-registration alerts compare the two (a baseline too small to judge means no alert).
-- SECURITY DEFINER and reviewed as above: two numbers.
create function ops.auth_registration_counts(p_now timestamptz, p_window interval)
returns table (registrations bigint, baseline double precision)
language sql
stable
security definer
set search_path = ''
as $$
  select pg_catalog.count(*) filter (where u.created_at > p_now - p_window),
         pg_catalog.count(*) filter (where u.created_at <= p_now - p_window)::double precision
           * extract(epoch from p_window)::double precision
           / extract(epoch from interval '7 days')::double precision
  from auth.users u
  where u.created_at > p_now - p_window - interval '7 days'
    and u.created_at <= p_now
$$;
revoke all on function ops.auth_registration_counts(timestamptz, interval) from public;
grant execute on function ops.auth_registration_counts(timestamptz, interval) to service_role;
