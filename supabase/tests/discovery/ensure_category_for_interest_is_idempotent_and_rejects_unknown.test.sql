-- ensure_category_for_interest(): returns the mapped category, creates category and mapping
-- once for an unmapped interest, reuses a category with the interest's slug, and refuses null
-- and unknown interests with stable SQLSTATEs. Only service_role may call it.
begin;
select plan(14);

-- A seeded interest is already mapped: its category comes back, nothing is created.
select is(
  public.ensure_category_for_interest('11111111-1111-1111-1111-111111111111'),
  'c0000000-0000-0000-0000-000000000001'::uuid,
  'a mapped interest returns its mapped category'
);

-- An unmapped interest gets a category named after it, and a mapping.
insert into public.interest_catalog (id, slug, name)
values ('77777777-7777-7777-7777-777777777777', 'board-games', 'Board games');
create temp table first_call on commit drop as
select public.ensure_category_for_interest('77777777-7777-7777-7777-777777777777') as category_id;

select is(
  (select slug from public.marketplace_categories
   where id = (select category_id from first_call)),
  'board-games',
  'an unmapped interest gets a category with its slug'
);
select is(
  (select name from public.marketplace_categories
   where id = (select category_id from first_call)),
  'Board games',
  'the new category takes the interest''s name'
);
select ok(
  exists (select 1 from public.marketplace_interest_map
          where interest_id = '77777777-7777-7777-7777-777777777777'
            and category_id = (select category_id from first_call)),
  'and a mapping from the interest to it'
);

-- Idempotent: a second call returns the same category and creates nothing.
select is(
  public.ensure_category_for_interest('77777777-7777-7777-7777-777777777777'),
  (select category_id from first_call),
  'a second call returns the same category'
);
select is(
  (select count(*)::int from public.marketplace_categories where slug = 'board-games'),
  1,
  'a second call creates no second category'
);
select is(
  (select count(*)::int from public.marketplace_interest_map
   where interest_id = '77777777-7777-7777-7777-777777777777'),
  1,
  'a second call creates no second mapping'
);

-- An existing category with the interest's slug is reused, not duplicated.
insert into public.interest_catalog (id, slug, name)
values ('88888888-8888-8888-8888-888888888888', 'chess', 'Chess');
insert into public.marketplace_categories (id, slug, name)
values ('c0000000-0000-0000-0000-0000000000c5', 'chess', 'Chess sets');
select is(
  public.ensure_category_for_interest('88888888-8888-8888-8888-888888888888'),
  'c0000000-0000-0000-0000-0000000000c5'::uuid,
  'a category that already has the interest''s slug is mapped and reused'
);

-- Errors
select throws_ok(
  $$ select public.ensure_category_for_interest(null) $$,
  '22023',
  'p_interest_id must not be null',
  'null is refused with 22023'
);
select throws_ok(
  $$ select public.ensure_category_for_interest('99999999-9999-9999-9999-999999999999') $$,
  'P0002',
  'unknown interest: 99999999-9999-9999-9999-999999999999',
  'an unknown interest is refused with P0002 naming it'
);

-- Privileges
select ok(
  has_function_privilege('service_role', 'public.ensure_category_for_interest(uuid)', 'EXECUTE'),
  'service_role may execute ensure_category_for_interest'
);
select ok(
  not has_function_privilege('authenticated', 'public.ensure_category_for_interest(uuid)',
                             'EXECUTE'),
  'authenticated may not execute ensure_category_for_interest'
);
select ok(
  not has_function_privilege('anon', 'public.ensure_category_for_interest(uuid)', 'EXECUTE'),
  'anon may not execute ensure_category_for_interest'
);

-- As service_role (its grants only, RLS bypassed) the create path works too.
insert into public.interest_catalog (id, slug, name)
values ('99999999-0000-0000-0000-000000000009', 'kayaking', 'Kayaking');
select tests.authenticate_as_service_role();
select isnt(
  public.ensure_category_for_interest('99999999-0000-0000-0000-000000000009'),
  null,
  'service_role can create a category through it'
);
select tests.clear_authentication();

select * from finish();
rollback;
