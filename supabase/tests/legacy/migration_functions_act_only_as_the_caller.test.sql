-- The three SQL functions the legacy-migration function runs as the caller: reading returns only
-- the caller's legacy rows; inserting always writes them as the owner, whatever the payload
-- says; purging deletes exactly the listed rows of the caller, and refuses (40001, so the
-- transaction rolls back) when the rows changed since they were read. Only signed-in users may
-- call them.
begin;
select plan(14);

select from tests.create_supabase_user('alice');
select from tests.create_supabase_user('bob');

insert into public.casfolio_portfolios (id, user_id, title, description, hero_image_path,
                                        created_at) values
  ('a0000000-0000-4000-8000-000000000001', tests.get_supabase_uid('alice'), 'Folio', 'About',
   tests.get_supabase_uid('alice') || '/hero.png', '2024-01-01 00:00:00+00'),
  ('b0000000-0000-4000-8000-000000000001', tests.get_supabase_uid('bob'), 'Bob folio', null,
   tests.get_supabase_uid('bob') || '/hero.png', '2024-01-01 00:00:00+00');
insert into public.casfolio_items (id, portfolio_id, user_id, title, image_path, position) values
  ('a0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001',
   tests.get_supabase_uid('alice'), 'Second', null, 1),
  ('a0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000001',
   tests.get_supabase_uid('alice'), 'First', tests.get_supabase_uid('alice') || '/1.jpg', 0),
  ('b0000000-0000-4000-8000-000000000002', 'b0000000-0000-4000-8000-000000000001',
   tests.get_supabase_uid('bob'), 'Bob item', null, 0);

select is(
  array(select format('%s:%s', r, f) from unnest(array['anon', 'authenticated', 'service_role']) r
        cross join unnest(array['public.legacy_portfolio_rows()',
                                'public.insert_migrated_activities(jsonb,jsonb)',
                                'public.purge_legacy_portfolio_rows(uuid[],uuid[])']) f
        where has_function_privilege(r, f, 'EXECUTE') order by 1),
  array['authenticated:public.insert_migrated_activities(jsonb,jsonb)',
        'authenticated:public.legacy_portfolio_rows()',
        'authenticated:public.purge_legacy_portfolio_rows(uuid[],uuid[])'],
  'only signed-in users may call the migration functions');
select is(
  array(select p.proname::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
         where n.nspname = 'public' and p.prosecdef
           and p.proname in ('legacy_portfolio_rows', 'insert_migrated_activities',
                             'purge_legacy_portfolio_rows')),
  '{}'::text[],
  'all three run with the caller''s rights (security invoker)');

select tests.authenticate_as('alice');

select is(
  public.legacy_portfolio_rows() -> 'portfolios' -> 0 ->> 'title', 'Folio',
  'alice reads her portfolio');
select is(
  jsonb_array_length(public.legacy_portfolio_rows() -> 'portfolios'), 1,
  'and not bob''s');
select is(
  array(select i ->> 'title' from jsonb_array_elements(public.legacy_portfolio_rows() -> 'items') i),
  array['First', 'Second'],
  'her items, in portfolio order, and not bob''s');

select is(
  public.insert_migrated_activities(
    p_activities => format('[{"id": "c0000000-0000-4000-8000-000000000001", "kind": "portfolio",
                             "title": "Folio", "body": null, "occurred_at": "2024-01-01T00:00:00Z",
                             "legacy_id": "a0000000-0000-4000-8000-000000000001",
                             "user_id": "%s"}]', tests.get_supabase_uid('bob'))::jsonb,
    p_assets => format('[{"activity_id": "c0000000-0000-4000-8000-000000000001",
                         "bucket": "activity-assets",
                         "path": "%s/c0000000-0000-4000-8000-000000000001/hero.png",
                         "kind": "hero", "legacy_path": "%s/hero.png"}]',
                       tests.get_supabase_uid('alice'), tests.get_supabase_uid('alice'))::jsonb),
  '{"activities": 1, "assets": 1}'::jsonb,
  'insert answers the rows it wrote');
select results_eq(
  $$ select a.user_id = auth.uid(), s.user_id = auth.uid(), a.occurred_at
       from public.activities a join public.activity_assets s on s.activity_id = a.id $$,
  $$ values (true, true, '2024-01-01 00:00:00+00'::timestamptz) $$,
  'the rows belong to the caller even when the payload names someone else');
select throws_ok(
  format($$ select public.insert_migrated_activities(
              p_activities => '[]', p_assets => '[{"activity_id":
                "c0000000-0000-4000-8000-000000000001", "bucket": "activity-assets",
                "path": "%s/x.png", "kind": "image"}]') $$, tests.get_supabase_uid('bob')),
  '23514', null,
  'an asset outside the caller''s folder is refused');
select throws_ok(
  $$ select public.insert_migrated_activities(p_activities => '{}', p_assets => '[]') $$,
  '22023', 'p_activities must be a JSON array',
  'insert names a malformed argument');

select throws_ok(
  $$ select public.purge_legacy_portfolio_rows(
       p_portfolio_ids => array['a0000000-0000-4000-8000-000000000001']::uuid[],
       p_item_ids => array['a0000000-0000-4000-8000-000000000002']::uuid[]) $$,
  '40001', 'legacy items were added during the migration; run it again',
  'a portfolio with an item the migration did not read is not deleted');
select throws_ok(
  $$ select public.purge_legacy_portfolio_rows(
       p_portfolio_ids => array['b0000000-0000-4000-8000-000000000001']::uuid[],
       p_item_ids => array['b0000000-0000-4000-8000-000000000002']::uuid[]) $$,
  '40001', 'legacy items changed during the migration; run it again',
  'bob''s rows are not alice''s to purge');
select is(
  public.purge_legacy_portfolio_rows(
    p_portfolio_ids => array['a0000000-0000-4000-8000-000000000001']::uuid[],
    p_item_ids => array['a0000000-0000-4000-8000-000000000002',
                        'a0000000-0000-4000-8000-000000000003']::uuid[]),
  '{"portfolios": 1, "items": 2}'::jsonb,
  'purge deletes exactly the rows it is given');

select tests.clear_authentication();
select results_eq(
  format($$ select title from public.casfolio_portfolios where user_id in (%L, %L) $$,
         tests.get_supabase_uid('alice'), tests.get_supabase_uid('bob')),
  $$ values ('Bob folio') $$,
  'only bob''s portfolio is left');

select tests.authenticate_as_anon();
select throws_ok($$ select public.legacy_portfolio_rows() $$, '42501',
                 'permission denied for function legacy_portfolio_rows',
                 'anon cannot read legacy rows');

select * from finish();
rollback;
