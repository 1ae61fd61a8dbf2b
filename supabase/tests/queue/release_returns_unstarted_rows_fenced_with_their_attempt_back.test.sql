-- release_events / release_discovery: a worker that runs out of time hands the rows it never
-- started back. Fenced by the lease token like ack and fail; the row is queued again with its
-- lease cleared, its place in line (run_at) kept, and the attempt the lease took given back.
begin;
select plan(14);

insert into public.events_queue (topic, payload, run_at, attempts)
select 't.release', jsonb_build_object('n', g), now() - interval '1 minute', case when g = 3 then 2 else 0 end
  from generate_series(1, 3) g;

select tests.authenticate_as_service_role();
create temp table l1 on commit drop as select * from public.lease_events('t.release', 3, 30);
grant all on l1 to service_role;

select is(public.release_events((select array_agg(id) from l1), gen_random_uuid()), 0,
          'a made-up token releases nothing');
select is(public.release_events((select array_agg(id) from l1), null), 0,
          'a null token releases nothing');
select is(public.release_events((select array_agg(id) from l1 where payload ->> 'n' <> '2'),
                                (select lease_token from l1 limit 1)), 2,
          'the holder releases exactly the rows it names');
select results_eq(
  $$ select payload ->> 'n', status, attempts, lease_token is null, lease_expires_at is null
       from public.events_queue where topic = 't.release' order by 1 $$,
  $$ values ('1', 'queued', 0, true, true), ('2', 'processing', 1, false, false),
            ('3', 'queued', 2, true, true) $$,
  'released rows are queued, unleased, with the attempt given back; the other is still leased');
select ok((select bool_and(run_at = now() - interval '1 minute') from public.events_queue
            where topic = 't.release' and status = 'queued'),
          'released rows keep their run_at (their place in line)');
select is(public.release_events((select array_agg(id) from l1),
                                (select lease_token from l1 limit 1)), 1,
          'releasing again changes only the row still leased');

-- A stale token: the lease expired and another worker holds the row now.
create temp table l2 on commit drop as select * from public.lease_events('t.release', 1, 30);
grant all on l2 to service_role;
reset role;
update public.events_queue set lease_expires_at = now() - interval '1 second'
 where id = (select id from l2);
select tests.authenticate_as_service_role();
create temp table l3 on commit drop as select * from public.lease_events('t.release', 1, 30);
select is((select id from l3), (select id from l2), 'worker 2 re-leased the expired row');
select is(public.release_events((select array_agg(id) from l2), (select lease_token from l2)), 0,
          'the stale holder''s release changes nothing');
select is(public.ack_events((select array_agg(id) from l3), (select lease_token from l3)), 1,
          'the row is still worker 2''s');
select is(public.release_events((select array_agg(id) from l3), (select lease_token from l3)), 0,
          'a done row cannot be released');

-- Discovery works the same way.
reset role;
select tests.create_supabase_user('release_user');
insert into public.marketplace_discovery_queue (interest_id, user_id)
values (gen_random_uuid(), tests.get_supabase_uid('release_user'));
select tests.authenticate_as_service_role();
create temp table d1 on commit drop as select * from public.lease_discovery(1, 30);
select is(public.release_discovery((select array_agg(id) from d1), gen_random_uuid()), 0,
          'a made-up token releases no discovery item');
select is(public.release_discovery((select array_agg(id) from d1), (select lease_token from d1)),
          1, 'the holder releases its discovery item');
select results_eq(
  $$ select status, attempts, lease_token is null from public.marketplace_discovery_queue
      where id = (select id from d1) $$,
  $$ values ('queued', 0, true) $$,
  'the released discovery item is queued with its attempt back');

-- Privileges: service_role only.
reset role;
select ok(
  not exists (select 1
                from unnest(array['anon', 'authenticated']) r,
                     unnest(array['public.release_events(bigint[], uuid)',
                                  'public.release_discovery(bigint[], uuid)']) f
               where has_function_privilege(r, f, 'EXECUTE'))
  and has_function_privilege('service_role', 'public.release_events(bigint[], uuid)', 'EXECUTE')
  and has_function_privilege('service_role', 'public.release_discovery(bigint[], uuid)', 'EXECUTE'),
  'release_* are executable by service_role only');

select * from finish();
rollback;
