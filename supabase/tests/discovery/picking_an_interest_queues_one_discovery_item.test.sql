-- The user_interests insert trigger: an interest a user picks at any time (usually after the
-- signup job ran) queues one discovery item for (user, interest), also when the user inserts it
-- themselves under RLS (the queue is service_role only). Re-picking it (the runbook's upsert)
-- or picking it again while its item is active adds no duplicate; a bulk insert queues one item
-- per new row. Users still cannot see the queue.
begin;
select plan(13);

select from tests.create_supabase_user('hal');
select from tests.create_supabase_user('ivy');

-- hal signed up earlier and the signup job found nothing to queue: no items yet.
select is(public.enqueue_discovery_for_user(tests.get_supabase_uid('hal')), 0,
          'a user without interests has nothing to discover');

-- hal picks an interest, as himself.
select tests.authenticate_as('hal');
select lives_ok(
  $$ insert into public.user_interests (user_id, interest_id, affinity)
     values (auth.uid(), '11111111-1111-1111-1111-111111111111', 0.9) $$,
  'an authenticated user can add their own interest (the trigger may write the queue)'
);
select throws_ok(
  $$ select count(*) from public.marketplace_discovery_queue $$,
  '42501', null, 'the user still cannot read the discovery queue'
);
select tests.clear_authentication();

select results_eq(
  format($$ select interest_id, status, attempts from public.marketplace_discovery_queue
            where user_id = %L $$, tests.get_supabase_uid('hal')),
  $$ values ('11111111-1111-1111-1111-111111111111'::uuid, 'queued'::text, 0) $$,
  'exactly one queued item for the new interest'
);

-- The runbook's upsert again (conflict → do update): no second item.
select tests.authenticate_as('hal');
select lives_ok(
  $$ insert into public.user_interests (user_id, interest_id, affinity)
     values (auth.uid(), '11111111-1111-1111-1111-111111111111', 0.6)
     on conflict (user_id, interest_id) do update set affinity = excluded.affinity $$,
  'the user can re-pick the interest with a new affinity'
);
select tests.clear_authentication();
select is(
  (select count(*)::int from public.marketplace_discovery_queue
   where user_id = tests.get_supabase_uid('hal')),
  1,
  're-picking an interest whose item is queued adds no duplicate'
);

-- Even once the item is done, an affinity change (the update path) queues nothing new.
update public.marketplace_discovery_queue set status = 'done'
 where user_id = tests.get_supabase_uid('hal');
select tests.authenticate_as('hal');
insert into public.user_interests (user_id, interest_id, affinity)
values (auth.uid(), '11111111-1111-1111-1111-111111111111', 0.7)
on conflict (user_id, interest_id) do update set affinity = excluded.affinity;
update public.user_interests set affinity = 0.8
 where interest_id = '11111111-1111-1111-1111-111111111111';
select tests.clear_authentication();
select is(
  (select count(*)::int from public.marketplace_discovery_queue
   where user_id = tests.get_supabase_uid('hal')),
  1,
  'changing the affinity of a discovered interest queues nothing'
);

-- A bulk insert: one item per new row, and only for new rows (the conflicting one is skipped).
select tests.authenticate_as('hal');
insert into public.user_interests (user_id, interest_id, affinity) values
  (auth.uid(), '11111111-1111-1111-1111-111111111111', 0.9),
  (auth.uid(), '22222222-2222-2222-2222-222222222222', 0.8),
  (auth.uid(), '33333333-3333-3333-3333-333333333333', 0.7),
  (auth.uid(), '44444444-4444-4444-4444-444444444444', 0.6)
on conflict (user_id, interest_id) do nothing;
select tests.clear_authentication();
select results_eq(
  format($$ select interest_id from public.marketplace_discovery_queue
            where user_id = %L and status = 'queued' order by interest_id $$,
         tests.get_supabase_uid('hal')),
  $$ values ('22222222-2222-2222-2222-222222222222'::uuid),
            ('33333333-3333-3333-3333-333333333333'::uuid),
            ('44444444-4444-4444-4444-444444444444'::uuid) $$,
  'a bulk insert queues one item per newly inserted interest'
);

-- Dropping and re-picking an interest while its item is still queued: no duplicate.
select tests.authenticate_as('hal');
delete from public.user_interests where interest_id = '22222222-2222-2222-2222-222222222222';
insert into public.user_interests (user_id, interest_id, affinity)
values (auth.uid(), '22222222-2222-2222-2222-222222222222', 0.5);
select tests.clear_authentication();
select is(
  (select count(*)::int from public.marketplace_discovery_queue
   where user_id = tests.get_supabase_uid('hal')
     and interest_id = '22222222-2222-2222-2222-222222222222'),
  1,
  'an interest re-picked while its item is active is not queued twice'
);

-- enqueue_discovery_for_user (the signup job) adds nothing for the three the trigger queued;
-- only interest 1, whose item is done, is queued again.
select is(public.enqueue_discovery_for_user(tests.get_supabase_uid('hal')), 1,
          'the signup job duplicates none of the items the trigger queued');

-- Another user's pick touches only their own items.
select tests.authenticate_as('ivy');
insert into public.user_interests (user_id, interest_id, affinity)
values (auth.uid(), '22222222-2222-2222-2222-222222222222', 0.4);
select tests.clear_authentication();
select results_eq(
  format($$ select user_id, interest_id from public.marketplace_discovery_queue
            where user_id = %L $$, tests.get_supabase_uid('ivy')),
  format($$ values (%L::uuid, '22222222-2222-2222-2222-222222222222'::uuid) $$,
         tests.get_supabase_uid('ivy')),
  'each user''s pick queues an item for that user, even for an interest another user has queued'
);

-- Shape: one set-based, security definer trigger function with an empty search_path.
select ok(
  (select t.tgtype & 1 = 0 and t.tgtype & 4 = 4 and not t.tgisinternal
     from pg_trigger t
    where t.tgrelid = 'public.user_interests'::regclass
      and t.tgname = 'discovery_on_user_interests_inserted'),
  'the trigger is AFTER INSERT, FOR EACH STATEMENT'
);
select ok(
  (select p.prosecdef and p.proconfig = array['search_path=""']
     from pg_proc p where p.oid = 'ops.discovery_on_user_interests_inserted()'::regprocedure)
    and not has_function_privilege('authenticated',
                                   'ops.discovery_on_user_interests_inserted()', 'EXECUTE'),
  'its function is security definer with search_path = '''' and not callable by clients'
);

select * from finish();
rollback;
