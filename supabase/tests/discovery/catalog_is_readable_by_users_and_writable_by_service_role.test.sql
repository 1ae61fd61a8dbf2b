-- Catalog, categories, mappings and candidates: signed-in users read (active candidates only),
-- only service_role writes, anon sees nothing. Gaps: service_role only. Seeds are exact.
begin;
select plan(19);

-- Seeds
select is((select count(*)::int from public.interest_catalog), 6, 'six seeded interests');
select is((select count(*)::int from public.marketplace_categories), 6, 'six seeded categories');
select is((select count(*)::int from public.marketplace_interest_map), 6, 'six seeded mappings');
select is((select count(*)::int from public.marketplace_candidates), 6, 'six seeded candidates');
select results_eq(
  $$ select id from public.interest_catalog order by id $$,
  $$ values ('11111111-1111-1111-1111-111111111111'::uuid),
            ('22222222-2222-2222-2222-222222222222'::uuid),
            ('33333333-3333-3333-3333-333333333333'::uuid),
            ('44444444-4444-4444-4444-444444444444'::uuid),
            ('55555555-5555-5555-5555-555555555555'::uuid),
            ('66666666-6666-6666-6666-666666666666'::uuid) $$,
  'the seeded interests have the documented ids'
);
select ok(
  exists (select 1 from auth.users where id = '00000000-0000-0000-0000-000000000001'),
  'the runbook test user exists'
);

select from tests.create_supabase_user('carol');
insert into public.marketplace_candidates (category_id, title, popularity, active)
values ('c0000000-0000-0000-0000-000000000001', 'Retired tent', 0.1, false);

-- authenticated
select tests.authenticate_as('carol');
select is((select count(*)::int from public.interest_catalog), 6, 'a user reads the catalog');
select is((select count(*)::int from public.marketplace_categories), 6, 'a user reads categories');
select is((select count(*)::int from public.marketplace_interest_map), 6, 'a user reads mappings');
select is((select count(*)::int from public.marketplace_candidates), 6,
          'a user reads active candidates only');
select throws_ok(
  $$ insert into public.interest_catalog (slug, name) values ('x', 'X') $$,
  '42501', 'permission denied for table interest_catalog',
  'a user cannot add interests'
);
select throws_ok(
  $$ update public.marketplace_candidates set popularity = 100 $$,
  '42501', 'permission denied for table marketplace_candidates',
  'a user cannot change candidates'
);
select throws_ok(
  $$ delete from public.marketplace_interest_map $$,
  '42501', 'permission denied for table marketplace_interest_map',
  'a user cannot delete mappings'
);
select throws_ok(
  $$ select * from public.marketplace_gaps $$,
  '42501', 'permission denied for table marketplace_gaps',
  'a user cannot read gaps'
);

-- anon
select tests.authenticate_as_anon();
select throws_ok(
  $$ select * from public.interest_catalog $$,
  '42501', 'permission denied for table interest_catalog',
  'anon cannot read the catalog'
);
select throws_ok(
  $$ select * from public.marketplace_candidates $$,
  '42501', 'permission denied for table marketplace_candidates',
  'anon cannot read candidates'
);

-- service_role
select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.marketplace_categories (slug, name) values ('tents', 'Tents') $$,
  'service_role can add categories'
);
select is((select count(*)::int from public.marketplace_candidates), 7,
          'service_role reads inactive candidates too');
select lives_ok(
  $$ insert into public.marketplace_gaps (interest_id, category_id, candidate_count, reason)
     values ('11111111-1111-1111-1111-111111111111', 'c0000000-0000-0000-0000-000000000001', 0,
             'test') $$,
  'service_role can write gaps'
);

select * from finish();
rollback;
