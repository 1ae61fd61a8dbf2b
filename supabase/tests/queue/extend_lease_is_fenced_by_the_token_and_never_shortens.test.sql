-- public.extend_events_lease / public.extend_discovery_lease: a heartbeat pushes the lease's
-- expiry of rows still processing under the caller's token, never shortens it, and answers with
-- the rows it extended, so a worker whose lease was lost can tell. p_seconds is bounded.
begin;
select plan(20);

insert into public.events_queue (topic, payload)
select 't.extend', jsonb_build_object('n', g) from generate_series(1, 3) g;

select tests.authenticate_as_service_role();
create temp table first_lease on commit drop as select * from public.lease_events('t.extend', 3, 30);
grant all on first_lease to service_role;

create temp table extended on commit drop as
  select * from public.extend_events_lease((select array_agg(id) from first_lease),
                                            (select lease_token from first_lease limit 1), 600);
select is((select count(*)::int from extended), 3, 'every row of the live lease is extended');
select ok((select bool_and(e.lease_expires_at = now() + interval '600 seconds') from extended e),
          'to now() + p_seconds, as it answers');
select ok((select bool_and(q.lease_expires_at = now() + interval '600 seconds'
                           and q.status = 'processing' and q.attempts = 1)
             from public.events_queue q where q.topic = 't.extend'),
          'the rows say so, still processing on their first attempt');
select is((select count(*)::int from public.extend_events_lease(
             (select array_agg(id) from first_lease), (select lease_token from first_lease limit 1),
             10)), 3, 'a shorter extension still answers for the rows it holds');
select ok((select bool_and(q.lease_expires_at = now() + interval '600 seconds')
             from public.events_queue q where q.topic = 't.extend'),
          'but never shortens the lease');

-- The fence: a made-up token extends nothing; a null one is refused.
select is((select count(*)::int from public.extend_events_lease(
             (select array_agg(id) from first_lease), gen_random_uuid(), 60)), 0,
          'a made-up token extends nothing');
select throws_ok($$ select * from public.extend_events_lease(
                    (select array_agg(id) from first_lease), null, 60) $$,
                 '22023', 'p_token must not be null',
                 'a null token is refused (not answered as a lost lease)');

-- Worker 1's lease expires and worker 2 claims two of the rows; the third stays expired but
-- unclaimed, which (as a late ack) worker 1 may still extend.
reset role;
update public.events_queue set lease_expires_at = now() - interval '1 second'
 where topic = 't.extend';
select tests.authenticate_as_service_role();
create temp table second_lease on commit drop as select * from public.lease_events('t.extend', 2, 30);
select is((select array_agg(id order by id) from public.extend_events_lease(
             (select array_agg(id) from first_lease), (select lease_token from first_lease limit 1),
             60)),
          (select array_agg(id order by id) from first_lease
            where id not in (select id from second_lease)),
          'worker 1 gets back only the row nobody re-claimed');
select ok((select bool_and(q.lease_token = s.lease_token
                           and q.lease_expires_at = now() + interval '30 seconds')
             from public.events_queue q join second_lease s using (id)),
          'worker 2''s rows keep its token and expiry');

-- Finished rows are not processing any more: nothing to extend.
select is(public.ack_events((select array_agg(id) from second_lease),
                            (select lease_token from second_lease limit 1)), 2, 'worker 2 acks');
select is((select count(*)::int from public.extend_events_lease(
             (select array_agg(id) from second_lease), (select lease_token from second_lease limit 1),
             60)), 0, 'a done row cannot be extended');

select throws_ok($$ select * from public.extend_events_lease(array[1]::bigint[], gen_random_uuid(), 0) $$,
                 '22023', 'p_seconds must be between 1 and 3600', 'p_seconds 0 is refused');
select throws_ok($$ select * from public.extend_events_lease(array[1]::bigint[], gen_random_uuid(), 3601) $$,
                 '22023', 'p_seconds must be between 1 and 3600', 'p_seconds 3601 is refused');
select throws_ok($$ select * from public.extend_events_lease(null, gen_random_uuid(), 60) $$,
                 '22023', 'p_ids must not be null', 'null ids are refused');

-- The discovery twin (the twins test checks the two copies agree; this runs it once).
reset role;
select tests.create_supabase_user('extend_user');
insert into public.marketplace_discovery_queue (interest_id, user_id)
values (gen_random_uuid(), tests.get_supabase_uid('extend_user'));
select tests.authenticate_as_service_role();
create temp table discovery_lease on commit drop as select * from public.lease_discovery(1, 30);
select is((select lease_expires_at from public.extend_discovery_lease(
             (select array_agg(id) from discovery_lease),
             (select lease_token from discovery_lease limit 1), 90)),
          now() + interval '90 seconds', 'extend_discovery_lease extends the discovery lease');

select tests.clear_authentication();
select ok(not has_function_privilege(r, f, 'execute'), r || ' may not call ' || f)
  from unnest(array['anon', 'authenticated']) as r,
       unnest(array['public.extend_events_lease(bigint[], uuid, integer)',
                    'public.extend_discovery_lease(bigint[], uuid, integer)']) as f;
select ok(has_function_privilege('service_role', 'public.extend_discovery_lease(bigint[], uuid, integer)',
                                 'execute'), 'service_role may extend');

select * from finish();
rollback;
