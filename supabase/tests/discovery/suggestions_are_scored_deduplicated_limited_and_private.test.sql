-- marketplace_suggestions_for_user(): active candidates of the user's interests' categories,
-- scored by the documented formula, each candidate once, best first, limited 1–100; a user asks
-- only for themselves (service_role for anyone); nothing when marketplace.suggest is off.
begin;
select plan(22);

select from tests.create_supabase_user('dana');
select from tests.create_supabase_user('eli');

-- Fixture: dana likes hiking (0.9) and photography (0.5). Category 1 (hiking) also serves
-- photography, so its candidates are reachable through both interests.
insert into public.marketplace_interest_map (interest_id, category_id)
values ('22222222-2222-2222-2222-222222222222', 'c0000000-0000-0000-0000-000000000001');
insert into public.marketplace_candidates (id, category_id, title, popularity, active, created_at)
values
  ('e0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001',
   'Fresh popular tent', 9, true, now()),
  ('e0000000-0000-0000-0000-000000000002', 'c0000000-0000-0000-0000-000000000001',
   'Old unpopular map', 0, true, now() - interval '300 days'),
  ('e0000000-0000-0000-0000-000000000003', 'c0000000-0000-0000-0000-000000000001',
   'Retired stove', 5, false, now()),
  ('e0000000-0000-0000-0000-000000000004', 'c0000000-0000-0000-0000-000000000003',
   'Cooking only', 5, true, now());
insert into public.user_interests (user_id, interest_id, affinity) values
  (tests.get_supabase_uid('dana'), '11111111-1111-1111-1111-111111111111', 0.9),
  (tests.get_supabase_uid('dana'), '22222222-2222-2222-2222-222222222222', 0.5),
  (tests.get_supabase_uid('eli'), '33333333-3333-3333-3333-333333333333', 1.0);

-- ---------------------------------------------------------------------------------------------
-- As dana, for herself
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('dana');

create temp table dana_s on commit drop as
select row_number() over () as pos, s.*
from public.marketplace_suggestions_for_user(tests.get_supabase_uid('dana')) s;

select is((select count(*)::int from dana_s), 4,
          'dana gets the 3 active hiking-category candidates and the photography one');
select is((select count(*)::int from dana_s), (select count(distinct candidate_id)::int from dana_s),
          'no candidate appears twice');
select ok(not exists (select 1 from dana_s where candidate_id = 'e0000000-0000-0000-0000-000000000003'),
          'inactive candidates are never suggested');
select ok(not exists (select 1 from dana_s where candidate_id = 'e0000000-0000-0000-0000-000000000004'),
          'candidates of categories she has no interest in are not suggested');
select is(
  (select interest_id from dana_s where candidate_id = 'e0000000-0000-0000-0000-000000000001'),
  '11111111-1111-1111-1111-111111111111'::uuid,
  'a candidate reachable through two interests comes through the higher-scoring one'
);
select is(
  (select reason from dana_s where candidate_id = 'e0000000-0000-0000-0000-000000000001'),
  'interest:hiking',
  'reason names the interest by slug'
);
select is((select candidate_id from dana_s where pos = 1),
          'e0000000-0000-0000-0000-000000000001'::uuid,
          'the fresh, popular candidate of the strongest interest comes first');
select ok(
  (select bool_and(a.score >= b.score) from dana_s a join dana_s b on b.pos = a.pos + 1),
  'rows are ordered by score, best first'
);
-- affinity 0.9 × (0.5 + 0.3 × 9/10 + 0.2 × ~1) = 0.9 × 0.97 = 0.873
select ok(
  abs((select score from dana_s where pos = 1) - 0.873) < 0.001,
  'the score follows the documented formula'
);
-- affinity 0.9 × (0.5 + 0 + 0.2 × e^-10) ≈ 0.45
select ok(
  abs((select score from dana_s
       where candidate_id = 'e0000000-0000-0000-0000-000000000002') - 0.45) < 0.001,
  'an old, unpopular candidate keeps the affinity floor'
);
select is(
  (select count(*)::int from public.marketplace_suggestions_for_user(
     tests.get_supabase_uid('dana'), 2)),
  2,
  'p_limit caps the rows'
);

-- ---------------------------------------------------------------------------------------------
-- Refusals
-- ---------------------------------------------------------------------------------------------
select throws_ok(
  format('select * from public.marketplace_suggestions_for_user(%L)',
         tests.get_supabase_uid('eli')),
  '42501',
  'a user may only ask for their own suggestions',
  'dana cannot ask for eli''s suggestions'
);
select throws_ok(
  format('select * from public.marketplace_suggestions_for_user(%L, 0)',
         tests.get_supabase_uid('dana')),
  '22023', 'p_limit must be between 1 and 100', 'p_limit 0 is refused'
);
select throws_ok(
  format('select * from public.marketplace_suggestions_for_user(%L, 101)',
         tests.get_supabase_uid('dana')),
  '22023', 'p_limit must be between 1 and 100', 'p_limit 101 is refused'
);
select throws_ok(
  format('select * from public.marketplace_suggestions_for_user(%L, null)',
         tests.get_supabase_uid('dana')),
  '22023', 'p_limit must be between 1 and 100', 'a null p_limit is refused'
);
select throws_ok(
  'select * from public.marketplace_suggestions_for_user(null)',
  '22023', 'p_user_id must not be null', 'a null user is refused'
);

-- ---------------------------------------------------------------------------------------------
-- service_role and the owner ask for anyone
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as_service_role();
select is(
  (select count(*)::int from public.marketplace_suggestions_for_user(
     tests.get_supabase_uid('eli'))),
  2,
  'service_role gets eli''s suggestions (the seeded kitchen candidate and the cooking one)'
);
select tests.clear_authentication();
select is(
  (select count(*)::int from public.marketplace_suggestions_for_user(
     tests.get_supabase_uid('dana'), 100)),
  4,
  'the owner (SQL console) gets anyone''s suggestions'
);

-- ---------------------------------------------------------------------------------------------
-- The flag
-- ---------------------------------------------------------------------------------------------
update public.feature_flags set value = '{"enabled": false}' where key = 'marketplace.suggest';
select tests.authenticate_as('dana');
select is_empty(
  format('select * from public.marketplace_suggestions_for_user(%L)',
         tests.get_supabase_uid('dana')),
  'marketplace.suggest off: no suggestions'
);
select tests.clear_authentication();
update public.feature_flags set value = '{"enabled": true, "percentage": 0}'
where key = 'marketplace.suggest';
select is_empty(
  format('select * from public.marketplace_suggestions_for_user(%L)',
         tests.get_supabase_uid('dana')),
  'marketplace.suggest at 0 percent: no suggestions'
);
update public.feature_flags set value = '{"enabled": true}' where key = 'marketplace.suggest';

-- ---------------------------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------------------------
select ok(
  not has_function_privilege('anon', 'public.marketplace_suggestions_for_user(uuid, int)',
                             'EXECUTE'),
  'anon may not ask for suggestions'
);
select ok(
  has_function_privilege('authenticated', 'public.marketplace_suggestions_for_user(uuid, int)',
                         'EXECUTE')
    and has_function_privilege('service_role',
                               'public.marketplace_suggestions_for_user(uuid, int)', 'EXECUTE'),
  'authenticated and service_role may ask'
);

select * from finish();
rollback;
