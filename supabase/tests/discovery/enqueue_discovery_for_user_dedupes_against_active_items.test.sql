-- enqueue_discovery_for_user(): one discovery item per interest of the user, none for interests
-- that already have an active (queued or processing) item, again once an item is done or dead;
-- returns how many it queued. Only service_role may call it.
begin;
select plan(13);

select from tests.create_supabase_user('fay');
select from tests.create_supabase_user('gus');
insert into public.user_interests (user_id, interest_id, affinity) values
  (tests.get_supabase_uid('fay'), '11111111-1111-1111-1111-111111111111', 0.9),
  (tests.get_supabase_uid('fay'), '22222222-2222-2222-2222-222222222222', 0.8),
  (tests.get_supabase_uid('fay'), '33333333-3333-3333-3333-333333333333', 0.7),
  (tests.get_supabase_uid('gus'), '11111111-1111-1111-1111-111111111111', 0.5);
-- The user_interests trigger has already queued these (its own test covers that); clear them so
-- this file exercises enqueue_discovery_for_user alone, as the signup job calls it.
delete from public.marketplace_discovery_queue
 where user_id in (tests.get_supabase_uid('fay'), tests.get_supabase_uid('gus'));

select is(public.enqueue_discovery_for_user(tests.get_supabase_uid('fay')), 3,
          'one item per interest is queued, and the count returned');
select results_eq(
  format($$ select interest_id, status, attempts from public.marketplace_discovery_queue
            where user_id = %L order by interest_id $$, tests.get_supabase_uid('fay')),
  $$ values ('11111111-1111-1111-1111-111111111111'::uuid, 'queued'::text, 0),
            ('22222222-2222-2222-2222-222222222222'::uuid, 'queued'::text, 0),
            ('33333333-3333-3333-3333-333333333333'::uuid, 'queued'::text, 0) $$,
  'the items are queued for the user''s interests'
);
select is(public.enqueue_discovery_for_user(tests.get_supabase_uid('fay')), 0,
          'a second call queues nothing while the items are active');

-- A processing item still counts as active.
update public.marketplace_discovery_queue
   set status = 'processing', lease_token = gen_random_uuid(),
       lease_expires_at = now() + interval '1 minute'
 where user_id = tests.get_supabase_uid('fay')
   and interest_id = '11111111-1111-1111-1111-111111111111';
select is(public.enqueue_discovery_for_user(tests.get_supabase_uid('fay')), 0,
          'a processing item blocks a duplicate too');

-- Done and dead items do not: discovery can run again.
update public.marketplace_discovery_queue
   set status = 'done', lease_token = null, lease_expires_at = null
 where user_id = tests.get_supabase_uid('fay')
   and interest_id = '11111111-1111-1111-1111-111111111111';
update public.marketplace_discovery_queue set status = 'error'
 where user_id = tests.get_supabase_uid('fay')
   and interest_id = '22222222-2222-2222-2222-222222222222';
select is(public.enqueue_discovery_for_user(tests.get_supabase_uid('fay')), 2,
          'interests whose item is done or dead are queued again');
select is(
  (select count(*)::int from public.marketplace_discovery_queue
   where user_id = tests.get_supabase_uid('fay') and status in ('queued', 'processing')),
  3,
  'still exactly one active item per interest'
);

-- A new interest is picked up; other users are untouched. (Inserted with the trigger's item
-- removed again, as if that item had been cleared: the function alone must find it.)
insert into public.user_interests (user_id, interest_id, affinity)
values (tests.get_supabase_uid('fay'), '44444444-4444-4444-4444-444444444444', 0.2);
delete from public.marketplace_discovery_queue
 where user_id = tests.get_supabase_uid('fay')
   and interest_id = '44444444-4444-4444-4444-444444444444';
select is(public.enqueue_discovery_for_user(tests.get_supabase_uid('fay')), 1,
          'only the newly added interest is queued');
select is(
  (select count(*)::int from public.marketplace_discovery_queue
   where user_id = tests.get_supabase_uid('gus')),
  0,
  'another user''s interests are not queued'
);

-- A user without interests, and a user id nobody has.
select is(public.enqueue_discovery_for_user('00000000-0000-0000-0000-0000000000ff'), 0,
          'a user without interests queues nothing');

select throws_ok(
  $$ select public.enqueue_discovery_for_user(null) $$,
  '22023', 'p_user_id must not be null', 'a null user is refused'
);

-- service_role runs it with its own grants.
select tests.authenticate_as_service_role();
select is(public.enqueue_discovery_for_user(tests.get_supabase_uid('gus')), 1,
          'service_role can enqueue');
select tests.clear_authentication();

select ok(
  not has_function_privilege('authenticated', 'public.enqueue_discovery_for_user(uuid)', 'EXECUTE')
    and not has_function_privilege('anon', 'public.enqueue_discovery_for_user(uuid)', 'EXECUTE'),
  'clients may not enqueue discovery'
);
select ok(
  has_function_privilege('service_role', 'public.enqueue_discovery_for_user(uuid)', 'EXECUTE'),
  'service_role may enqueue discovery'
);

select * from finish();
rollback;
