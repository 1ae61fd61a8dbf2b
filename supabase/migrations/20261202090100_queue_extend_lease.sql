-- Lease extension (a heartbeat for long jobs): public.extend_events_lease and its discovery twin
-- public.extend_discovery_lease. A worker whose job will outlast its lease pushes the lease's
-- expiry forward instead of leasing with a TTL sized for its slowest job, which would leave a
-- dead worker's quick jobs stranded for that long.


-- Pushes the lease of the given rows to at least now() + p_seconds — only rows still processing
-- under p_token (the fence, as for ack); a lease is never shortened. Returns the rows extended
-- with their new expiry: a row missing from the answer is no longer this lease's (it expired and
-- was re-claimed, or was requeued or finished), and its worker should stop. Like a late ack, an
-- expired lease that nobody re-claimed can still be extended: nobody else holds the row.
-- p_seconds is bounded as a lease's TTL is (1 s to 1 h a call).
create function public.extend_events_lease(p_ids bigint[], p_token uuid, p_seconds integer)
returns table (id bigint, lease_expires_at timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  -- A null would fence out every row, which a worker reads as a lost lease: name it instead.
  if p_ids is null or p_token is null then
    raise exception '% must not be null', case when p_ids is null then 'p_ids' else 'p_token' end
      using errcode = '22023';
  end if;
  if p_seconds is null or p_seconds not between 1 and 3600 then
    raise exception 'p_seconds must be between 1 and 3600' using errcode = '22023';
  end if;
  return query
  update public.events_queue q
     set lease_expires_at = greatest(q.lease_expires_at,
                                     pg_catalog.now() + pg_catalog.make_interval(secs => p_seconds)),
         updated_at = pg_catalog.now()
   where q.id = any(p_ids) and q.status = 'processing' and q.lease_token = p_token
  returning q.id, q.lease_expires_at;
end
$$;
revoke all on function public.extend_events_lease(bigint[], uuid, integer)
  from public, anon, authenticated;
grant execute on function public.extend_events_lease(bigint[], uuid, integer) to service_role;

-- The discovery queue's lease extension: the same fenced contract as extend_events_lease.
create function public.extend_discovery_lease(p_ids bigint[], p_token uuid, p_seconds integer)
returns table (id bigint, lease_expires_at timestamptz)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  -- A null would fence out every row, which a worker reads as a lost lease: name it instead.
  if p_ids is null or p_token is null then
    raise exception '% must not be null', case when p_ids is null then 'p_ids' else 'p_token' end
      using errcode = '22023';
  end if;
  if p_seconds is null or p_seconds not between 1 and 3600 then
    raise exception 'p_seconds must be between 1 and 3600' using errcode = '22023';
  end if;
  return query
  update public.marketplace_discovery_queue q
     set lease_expires_at = greatest(q.lease_expires_at,
                                     pg_catalog.now() + pg_catalog.make_interval(secs => p_seconds)),
         updated_at = pg_catalog.now()
   where q.id = any(p_ids) and q.status = 'processing' and q.lease_token = p_token
  returning q.id, q.lease_expires_at;
end
$$;
revoke all on function public.extend_discovery_lease(bigint[], uuid, integer)
  from public, anon, authenticated;
grant execute on function public.extend_discovery_lease(bigint[], uuid, integer) to service_role;
