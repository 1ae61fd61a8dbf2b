-- ops.discovery_assess_interests(), the work of one rocker-discovery-run batch: a category with
-- fewer active candidates than the threshold gets one open gap, reassessing refreshes it
-- instead of duplicating it, enough candidates resolve it, a gap whose interest → category
-- mapping was removed is resolved, and a failing interest reports its error without undoing the
-- others.
begin;
select plan(20);

-- Seeded interest 1 maps to category 1, which has one active candidate.
select results_eq(
  $$ select interest_id, ok, error, gaps_opened, gaps_resolved
     from ops.discovery_assess_interests(array['11111111-1111-1111-1111-111111111111'::uuid], 3) $$,
  $$ values ('11111111-1111-1111-1111-111111111111'::uuid, true, null::text, 1, 0) $$,
  'one candidate below a threshold of 3 opens a gap'
);
select results_eq(
  $$ select candidate_count, resolved_at is null from public.marketplace_gaps
     where interest_id = '11111111-1111-1111-1111-111111111111' $$,
  $$ values (1, true) $$,
  'the open gap records the candidate count'
);
select is(
  (select reason from public.marketplace_gaps
   where interest_id = '11111111-1111-1111-1111-111111111111'),
  '1 active candidate(s), fewer than the threshold of 3',
  'the gap says why'
);

-- Reassessing with nothing changed opens nothing new.
select is(
  (select gaps_opened from ops.discovery_assess_interests(
     array['11111111-1111-1111-1111-111111111111'::uuid], 3)),
  0,
  'reassessing an unchanged gap opens nothing'
);
select is(
  (select count(*)::int from public.marketplace_gaps
   where interest_id = '11111111-1111-1111-1111-111111111111'),
  1,
  'and leaves exactly one gap row'
);

-- One more candidate: the open gap's count is refreshed, still one row.
insert into public.marketplace_candidates (category_id, title, popularity)
values ('c0000000-0000-0000-0000-000000000001', 'Trekking poles', 0.4);
select is(
  (select gaps_opened from ops.discovery_assess_interests(
     array['11111111-1111-1111-1111-111111111111'::uuid], 3)),
  0,
  'a refreshed gap is not counted as opened'
);
select results_eq(
  $$ select candidate_count from public.marketplace_gaps
     where interest_id = '11111111-1111-1111-1111-111111111111' $$,
  $$ values (2) $$,
  'the open gap''s count is refreshed in place'
);

-- Inactive candidates do not count.
insert into public.marketplace_candidates (category_id, title, popularity, active)
values ('c0000000-0000-0000-0000-000000000001', 'Old stove', 0.4, false);
select is(
  (select gaps_resolved from ops.discovery_assess_interests(
     array['11111111-1111-1111-1111-111111111111'::uuid], 3)),
  0,
  'an inactive candidate does not close the gap'
);

-- A third active candidate reaches the threshold: the gap is resolved.
insert into public.marketplace_candidates (category_id, title, popularity)
values ('c0000000-0000-0000-0000-000000000001', 'Headlamp', 0.7);
select results_eq(
  $$ select ok, gaps_opened, gaps_resolved from ops.discovery_assess_interests(
       array['11111111-1111-1111-1111-111111111111'::uuid], 3) $$,
  $$ values (true, 0, 1) $$,
  'reaching the threshold resolves the open gap'
);
select results_eq(
  $$ select candidate_count, resolved_at is not null from public.marketplace_gaps
     where interest_id = '11111111-1111-1111-1111-111111111111' $$,
  $$ values (3, true) $$,
  'the resolved gap keeps its final count and a resolved_at'
);
select is(
  (select gaps_resolved from ops.discovery_assess_interests(
     array['11111111-1111-1111-1111-111111111111'::uuid], 3)),
  0,
  'with no open gap there is nothing more to resolve'
);

-- A higher threshold reopens: a new episode, history kept.
select is(
  (select gaps_opened from ops.discovery_assess_interests(
     array['11111111-1111-1111-1111-111111111111'::uuid], 10)),
  1,
  'a higher threshold opens a new gap'
);
select is(
  (select count(*)::int from public.marketplace_gaps
   where interest_id = '11111111-1111-1111-1111-111111111111'),
  2,
  'the resolved gap is kept as history'
);

-- An unmapped interest gets its category first.
insert into public.interest_catalog (id, slug, name)
values ('77777777-7777-7777-7777-777777777777', 'climbing', 'Climbing');
select results_eq(
  $$ select ok, gaps_opened from ops.discovery_assess_interests(
       array['77777777-7777-7777-7777-777777777777'::uuid], 3) $$,
  $$ values (true, 1) $$,
  'an unmapped interest is given a category, found empty, and gets a gap'
);

-- A gap whose mapping is removed is resolved when its interest is next assessed. Photography
-- (interest 2, category 2, one candidate) gets a gap, is remapped from category 2 to a new,
-- well-stocked one; the old gap is resolved, no new gap opens.
select is(
  (select gaps_opened from ops.discovery_assess_interests(
     array['22222222-2222-2222-2222-222222222222'::uuid], 3)),
  1,
  'photography''s thin category gets a gap'
);
insert into public.marketplace_categories (id, slug, name)
values ('c7000000-0000-0000-0000-000000000007', 'photo-shop', 'Photo shop');
insert into public.marketplace_candidates (category_id, title)
select 'c7000000-0000-0000-0000-000000000007', 'Lens ' || n from generate_series(1, 3) n;
insert into public.marketplace_interest_map (interest_id, category_id)
values ('22222222-2222-2222-2222-222222222222', 'c7000000-0000-0000-0000-000000000007');
delete from public.marketplace_interest_map
 where interest_id = '22222222-2222-2222-2222-222222222222'
   and category_id = 'c0000000-0000-0000-0000-000000000002';
select results_eq(
  $$ select ok, gaps_opened, gaps_resolved from ops.discovery_assess_interests(
       array['22222222-2222-2222-2222-222222222222'::uuid], 3) $$,
  $$ values (true, 0, 1) $$,
  'the gap of a category no longer mapped to the interest is resolved (and counted)'
);
select results_eq(
  $$ select category_id, resolved_at is not null from public.marketplace_gaps
     where interest_id = '22222222-2222-2222-2222-222222222222' $$,
  $$ values ('c0000000-0000-0000-0000-000000000002'::uuid, true) $$,
  'the orphaned gap is closed and kept as history; nothing is open for the interest'
);

-- A failing interest reports its error; the others in the batch still count.
select results_eq(
  $$ select interest_id, ok, error, gaps_opened from ops.discovery_assess_interests(
       array['99999999-9999-9999-9999-999999999999'::uuid,
             '33333333-3333-3333-3333-333333333333'::uuid], 3) $$,
  $$ values ('99999999-9999-9999-9999-999999999999'::uuid, false,
             'unknown interest: 99999999-9999-9999-9999-999999999999 (SQLSTATE P0002)', 0),
            ('33333333-3333-3333-3333-333333333333'::uuid, true, null::text, 1) $$,
  'an unknown interest fails alone, with its error'
);

select throws_ok(
  $$ select * from ops.discovery_assess_interests(array[]::uuid[], 0) $$,
  '22023',
  'p_threshold must be between 1 and 1000000',
  'a threshold below 1 is refused'
);

select ok(
  has_function_privilege('service_role', 'ops.discovery_assess_interests(uuid[], int)', 'EXECUTE')
    and not has_function_privilege('authenticated',
                                   'ops.discovery_assess_interests(uuid[], int)', 'EXECUTE'),
  'only service_role may run the assessment'
);

select * from finish();
rollback;
