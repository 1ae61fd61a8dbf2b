-- RLS on user_interests and intent_signals with two users: each reads and writes only their own
-- rows; neither can read, insert for, update or delete the other's. anon has no access at all.
begin;
select plan(20);

select tests.rls_enabled('public');

select from tests.create_supabase_user('alice');
select from tests.create_supabase_user('bob');

insert into public.user_interests (user_id, interest_id, affinity) values
  (tests.get_supabase_uid('alice'), '11111111-1111-1111-1111-111111111111', 0.9),
  (tests.get_supabase_uid('bob'), '22222222-2222-2222-2222-222222222222', 0.4);
insert into public.intent_signals (user_id, interest_id, signal, weight) values
  (tests.get_supabase_uid('alice'), '11111111-1111-1111-1111-111111111111', 'click', 1),
  (tests.get_supabase_uid('bob'), '22222222-2222-2222-2222-222222222222', 'save', 2);

-- ---------------------------------------------------------------------------------------------
-- alice
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('alice');

select results_eq(
  $$ select interest_id from public.user_interests $$,
  $$ values ('11111111-1111-1111-1111-111111111111'::uuid) $$,
  'alice reads only her own interests'
);
select results_eq(
  $$ select signal from public.intent_signals $$,
  $$ values ('click'::text) $$,
  'alice reads only her own signals'
);

select lives_ok(
  $$ insert into public.user_interests (user_id, interest_id, affinity)
     values (auth.uid(), '33333333-3333-3333-3333-333333333333', 0.5) $$,
  'alice can add an interest for herself'
);
select lives_ok(
  $$ insert into public.intent_signals (user_id, interest_id, signal)
     values (auth.uid(), '33333333-3333-3333-3333-333333333333', 'search') $$,
  'alice can record a signal for herself'
);
select lives_ok(
  $$ update public.user_interests set affinity = 0.6
     where interest_id = '33333333-3333-3333-3333-333333333333' $$,
  'alice can change the affinity of her own interest'
);

select throws_ok(
  format($$ insert into public.user_interests (user_id, interest_id, affinity)
            values (%L, '44444444-4444-4444-4444-444444444444', 0.5) $$,
         tests.get_supabase_uid('bob')),
  '42501',
  'new row violates row-level security policy for table "user_interests"',
  'alice cannot add an interest for bob'
);
select throws_ok(
  format($$ insert into public.intent_signals (user_id, interest_id, signal)
            values (%L, '44444444-4444-4444-4444-444444444444', 'click') $$,
         tests.get_supabase_uid('bob')),
  '42501',
  'new row violates row-level security policy for table "intent_signals"',
  'alice cannot record a signal for bob'
);
select throws_ok(
  format($$ update public.user_interests set user_id = %L
            where interest_id = '11111111-1111-1111-1111-111111111111' $$,
         tests.get_supabase_uid('bob')),
  '42501',
  'permission denied for table user_interests',
  'alice cannot move her interest to bob (only affinity is updatable)'
);

-- Updates and deletes of bob's rows silently match nothing under RLS.
update public.user_interests set affinity = 0 where user_id = tests.get_supabase_uid('bob');
delete from public.user_interests where user_id = tests.get_supabase_uid('bob');
delete from public.intent_signals where user_id = tests.get_supabase_uid('bob');

-- ---------------------------------------------------------------------------------------------
-- bob
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('bob');

select results_eq(
  $$ select interest_id, affinity from public.user_interests $$,
  $$ values ('22222222-2222-2222-2222-222222222222'::uuid, 0.4::real) $$,
  'bob''s interest survived alice''s update and delete, unchanged'
);
select results_eq(
  $$ select signal from public.intent_signals $$,
  $$ values ('save'::text) $$,
  'bob''s signal survived alice''s delete'
);
select is_empty(
  format($$ select 1 from public.user_interests where user_id = %L $$,
         tests.get_supabase_uid('alice')),
  'bob cannot read alice''s interests even by id'
);
select is_empty(
  format($$ select 1 from public.intent_signals where user_id = %L $$,
         tests.get_supabase_uid('alice')),
  'bob cannot read alice''s signals even by id'
);
select lives_ok(
  $$ delete from public.intent_signals where signal = 'save' $$,
  'bob can delete his own signal'
);

-- ---------------------------------------------------------------------------------------------
-- back as the owner: the effects are exactly the permitted ones
-- ---------------------------------------------------------------------------------------------
select tests.clear_authentication();

select is(
  (select count(*)::int from public.user_interests where user_id = tests.get_supabase_uid('alice')),
  2,
  'alice has her seeded interest plus the one she added'
);
select is(
  (select affinity from public.user_interests
   where user_id = tests.get_supabase_uid('alice')
     and interest_id = '33333333-3333-3333-3333-333333333333'),
  0.6::real,
  'alice''s affinity change took effect'
);
select is(
  (select count(*)::int from public.intent_signals where user_id = tests.get_supabase_uid('bob')),
  0,
  'bob''s delete removed his signal'
);

-- anon
select ok(
  not has_table_privilege('anon', 'public.user_interests', 'SELECT')
    and not has_table_privilege('anon', 'public.intent_signals', 'SELECT')
    and not has_table_privilege('anon', 'public.user_interests', 'INSERT')
    and not has_table_privilege('anon', 'public.intent_signals', 'INSERT'),
  'anon can neither read nor write interests or signals'
);

-- updated_at follows writes
select ok(
  (select updated_at >= created_at from public.user_interests
   where user_id = tests.get_supabase_uid('alice')
     and interest_id = '33333333-3333-3333-3333-333333333333'),
  'updated_at is maintained on update'
);

select throws_ok(
  format($$ insert into public.user_interests (user_id, interest_id, affinity)
            values (%L, '55555555-5555-5555-5555-555555555555', 1.5) $$,
         tests.get_supabase_uid('alice')),
  '23514',
  null,
  'affinity outside 0–1 is refused'
);

select * from finish();
rollback;
