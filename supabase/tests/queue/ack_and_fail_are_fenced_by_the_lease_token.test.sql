-- Fencing: ack and fail act only on rows still processing under the caller's token. A worker
-- whose lease expired and was re-claimed by another changes nothing (pgmq's double-run bug).
begin;
select plan(14);

insert into public.events_queue (topic, payload)
select 't.fence', jsonb_build_object('n', g) from generate_series(1, 4) g;

select tests.authenticate_as_service_role();
create temp table first_lease on commit drop as select * from public.lease_events('t.fence', 4, 30);
grant all on first_lease to service_role;

-- Worker 1 vanishes; its lease expires and worker 2 claims the rows.
reset role;
update public.events_queue set lease_expires_at = now() - interval '1 second'
 where topic = 't.fence';
select tests.authenticate_as_service_role();
create temp table second_lease on commit drop as select * from public.lease_events('t.fence', 4, 30);

select is((select count(*)::int from second_lease), 4, 'worker 2 re-leased all four rows');
select is(public.ack_events((select array_agg(id) from first_lease),
                            (select lease_token from first_lease limit 1)), 0,
          'worker 1''s late ack changes nothing');
select is(public.fail_events((select array_agg(id) from first_lease),
                             (select lease_token from first_lease limit 1), 'late'), 0,
          'worker 1''s late fail changes nothing');
select ok((select bool_and(q.status = 'processing' and q.lease_token = s.lease_token
                           and q.last_error is null and q.attempts = 2)
             from public.events_queue q join second_lease s using (id)),
          'the rows are still worker 2''s, untouched');
select is(public.ack_events(array[]::bigint[], (select lease_token from second_lease limit 1)), 0,
          'an empty ack is a no-op');
select is(public.ack_events((select array_agg(id) from second_lease), gen_random_uuid()), 0,
          'a made-up token acks nothing');
select is(public.ack_events((select array_agg(id) from second_lease), null), 0,
          'a null token acks nothing');

-- Worker 2 acks two, fails one, and keeps one.
select is(public.ack_events((select array_agg(id) from second_lease where payload ->> 'n' in ('1', '2')),
                            (select lease_token from second_lease limit 1)), 2,
          'the holder''s ack changes exactly its rows');
select is(public.ack_events((select array_agg(id) from second_lease where payload ->> 'n' in ('1', '2')),
                            (select lease_token from second_lease limit 1)), 0,
          'acking twice changes nothing the second time');
select is(public.fail_events((select array_agg(id) from second_lease where payload ->> 'n' = '1'),
                             (select lease_token from second_lease limit 1), 'too late'), 0,
          'a done row cannot be failed');
select is(public.fail_events((select array_agg(id) from second_lease where payload ->> 'n' = '3'),
                             (select lease_token from second_lease limit 1), 'boom'), 1,
          'the holder''s fail changes its row');
select is((select array_agg(status order by (payload ->> 'n')::int) from public.events_queue
            where topic = 't.fence'),
          array['done', 'done', 'queued', 'processing'],
          'end state: two done, one back in the queue, one still leased');

-- Discovery is fenced the same way.
reset role;
select tests.create_supabase_user('fence_user');
insert into public.marketplace_discovery_queue (interest_id, user_id)
values (gen_random_uuid(), tests.get_supabase_uid('fence_user'));
select tests.authenticate_as_service_role();
create temp table d1 on commit drop as select * from public.lease_discovery(1, 30);
grant all on d1 to service_role;
reset role;
update public.marketplace_discovery_queue set lease_expires_at = now() - interval '1 second';
select tests.authenticate_as_service_role();
create temp table d2 on commit drop as select * from public.lease_discovery(1, 30);
select is(public.ack_discovery((select array_agg(id) from d1), (select lease_token from d1)) +
          public.fail_discovery((select array_agg(id) from d1), (select lease_token from d1), 'x'),
          0, 'a stale discovery token acks and fails nothing');
select is(public.fail_discovery((select array_agg(id) from d2), (select lease_token from d2), 'x'),
          1, 'the discovery holder''s fail lands');

select * from finish();
rollback;
