-- RLS and privileges on the legacy migration's tables: every table has RLS; each user reads,
-- writes and deletes only their own legacy rows, activities and assets; an asset cannot point
-- at another user's activity or folder; users read but never write their migration runs;
-- anon has nothing; service_role has every table.
begin;
select plan(32);

select from tests.create_supabase_user('alice');
select from tests.create_supabase_user('bob');

-- ---------------------------------------------------------------------------------------------
-- RLS, policies and grants
-- ---------------------------------------------------------------------------------------------
select is(
  array(select c.relname::text from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relrowsecurity
           and c.relname in ('casfolio_portfolios', 'casfolio_items', 'activities',
                             'activity_assets', 'user_migrations')
         order by 1),
  array['activities', 'activity_assets', 'casfolio_items', 'casfolio_portfolios',
        'user_migrations'],
  'row level security is on for every legacy migration table');
select policies_are('public', 'activity_assets',
                    array['activity_assets_own', 'activity_assets_service_all'],
                    'activity_assets: owner-only for users, all for service_role');
select policies_are('public', 'user_migrations',
                    array['user_migrations_read_own', 'user_migrations_service_all'],
                    'user_migrations: users only read their own runs');

select is(
  array(select format('%s:%s', t, p) from unnest(array['casfolio_portfolios', 'casfolio_items',
          'activities', 'activity_assets', 'user_migrations']) t
        cross join unnest(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p
        where has_table_privilege('anon', 'public.' || t, p)),
  '{}'::text[],
  'anon holds no privilege on any legacy migration table');
select table_privs_are('public', 'casfolio_portfolios', 'authenticated', array['SELECT', 'DELETE'],
                       'authenticated: read and delete (migrate) legacy portfolios, no writes');
select table_privs_are('public', 'casfolio_items', 'authenticated', array['SELECT', 'DELETE'],
                       'authenticated: read and delete (migrate) legacy items, no writes');
select table_privs_are('public', 'activities', 'authenticated',
                       array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
                       'authenticated: full use of activities (own rows by RLS)');
select table_privs_are('public', 'activity_assets', 'authenticated',
                       array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
                       'authenticated: full use of activity_assets (own rows by RLS)');
select table_privs_are('public', 'user_migrations', 'authenticated', array['SELECT'],
                       'authenticated: only reads user_migrations');
select table_privs_are('public', 'user_migrations', 'service_role',
                       array['SELECT', 'INSERT', 'UPDATE', 'DELETE'],
                       'service_role: every privilege on user_migrations');

-- ---------------------------------------------------------------------------------------------
-- Fixtures: one portfolio with an item, one activity with an asset, one run, per user
-- ---------------------------------------------------------------------------------------------
insert into public.casfolio_portfolios (id, user_id, title, hero_image_path) values
  ('a0000000-0000-4000-8000-000000000001', tests.get_supabase_uid('alice'), 'Alice folio',
   tests.get_supabase_uid('alice') || '/hero.png'),
  ('b0000000-0000-4000-8000-000000000001', tests.get_supabase_uid('bob'), 'Bob folio',
   tests.get_supabase_uid('bob') || '/hero.png');
insert into public.casfolio_items (id, portfolio_id, user_id, title) values
  ('a0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000001',
   tests.get_supabase_uid('alice'), 'Alice item'),
  ('b0000000-0000-4000-8000-000000000002', 'b0000000-0000-4000-8000-000000000001',
   tests.get_supabase_uid('bob'), 'Bob item');
insert into public.activities (id, user_id, kind, title) values
  ('a0000000-0000-4000-8000-000000000003', tests.get_supabase_uid('alice'), 'portfolio', 'A'),
  ('b0000000-0000-4000-8000-000000000003', tests.get_supabase_uid('bob'), 'portfolio', 'B');
insert into public.activity_assets (activity_id, user_id, path, kind) values
  ('a0000000-0000-4000-8000-000000000003', tests.get_supabase_uid('alice'),
   tests.get_supabase_uid('alice') || '/a0000000-0000-4000-8000-000000000003/hero.png', 'hero'),
  ('b0000000-0000-4000-8000-000000000003', tests.get_supabase_uid('bob'),
   tests.get_supabase_uid('bob') || '/b0000000-0000-4000-8000-000000000003/hero.png', 'hero');
insert into public.user_migrations (user_id, status, message, finished_at) values
  (tests.get_supabase_uid('alice'), 'failed', 'Dry run complete', now()),
  (tests.get_supabase_uid('bob'), 'completed', 'Migration complete', now());

-- ---------------------------------------------------------------------------------------------
-- alice sees and changes only her own
-- ---------------------------------------------------------------------------------------------
select tests.authenticate_as('alice');

select results_eq($$ select title from public.casfolio_portfolios $$, $$ values ('Alice folio') $$,
                  'alice reads only her own legacy portfolios');
select results_eq($$ select title from public.casfolio_items $$, $$ values ('Alice item') $$,
                  'alice reads only her own legacy items');
select results_eq($$ select title from public.activities $$, $$ values ('A') $$,
                  'alice reads only her own activities');
select results_eq($$ select count(*)::int from public.activity_assets $$, $$ values (1) $$,
                  'alice reads only her own assets');
select results_eq($$ select message from public.user_migrations $$, $$ values ('Dry run complete') $$,
                  'alice reads only her own migration runs');

select throws_ok(
  format($$ insert into public.activities (user_id, kind, title) values (%L, 'portfolio', 'x') $$,
         tests.get_supabase_uid('bob')),
  '42501', 'new row violates row-level security policy for table "activities"',
  'alice cannot create an activity for bob');
select throws_ok(
  format($$ insert into public.activity_assets (activity_id, user_id, path, kind)
            values ('b0000000-0000-4000-8000-000000000003', %L, %L, 'image') $$,
         tests.get_supabase_uid('bob'), tests.get_supabase_uid('bob') || '/x/y.png'),
  '42501', 'new row violates row-level security policy for table "activity_assets"',
  'alice cannot attach an asset for bob');
select throws_ok(
  format($$ insert into public.activity_assets (activity_id, user_id, path, kind)
            values ('b0000000-0000-4000-8000-000000000003', %L, %L, 'image') $$,
         tests.get_supabase_uid('alice'), tests.get_supabase_uid('alice') || '/x/y.png'),
  '23503', null,
  'alice cannot attach her asset to bob''s activity (the key includes the owner)');
select throws_ok(
  format($$ insert into public.activity_assets (activity_id, user_id, path, kind)
            values ('a0000000-0000-4000-8000-000000000003', %L, %L, 'image') $$,
         tests.get_supabase_uid('alice'), tests.get_supabase_uid('bob') || '/x/y.png'),
  '23514', null,
  'an asset path outside the owner''s folder is refused');
select lives_ok(
  format($$ insert into public.activity_assets (activity_id, user_id, path, kind)
            values ('a0000000-0000-4000-8000-000000000003', %L, %L, 'image') $$,
         tests.get_supabase_uid('alice'), tests.get_supabase_uid('alice') || '/x/y.png'),
  'alice can attach an image in her folder to her activity');
select throws_ok(
  format($$ update public.activities set user_id = %L $$, tests.get_supabase_uid('bob')),
  '42501', 'new row violates row-level security policy for table "activities"',
  'alice cannot hand her activity to bob');

select results_eq(
  $$ with u as (update public.activities set title = 'hacked'
                 where id = 'b0000000-0000-4000-8000-000000000003' returning 1),
          d as (delete from public.activity_assets
                 where activity_id = 'b0000000-0000-4000-8000-000000000003' returning 1),
          p as (delete from public.casfolio_portfolios
                 where id = 'b0000000-0000-4000-8000-000000000001' returning 1),
          i as (delete from public.casfolio_items
                 where id = 'b0000000-0000-4000-8000-000000000002' returning 1)
     select (select count(*) from u) + (select count(*) from d) + (select count(*) from p)
            + (select count(*) from i) $$,
  $$ values (0::bigint) $$,
  'alice''s updates and deletes of bob''s rows touch nothing');

select throws_ok(
  $$ insert into public.casfolio_portfolios (user_id, title) values (auth.uid(), 'new') $$,
  '42501', 'permission denied for table casfolio_portfolios',
  'nobody writes new legacy rows any more');
select throws_ok(
  $$ insert into public.user_migrations (user_id, status, finished_at)
     values (auth.uid(), 'completed', now()) $$,
  '42501', 'permission denied for table user_migrations',
  'a user cannot forge a migration run');
select throws_ok(
  $$ update public.user_migrations set status = 'completed' $$,
  '42501', 'permission denied for table user_migrations',
  'a user cannot change a migration run');

select tests.clear_authentication();
select results_eq(
  $$ select title from public.activities
      where id in ('a0000000-0000-4000-8000-000000000003', 'b0000000-0000-4000-8000-000000000003')
      order by title $$,
  $$ values ('A'), ('B') $$,
  'bob''s activity is unchanged');
select results_eq(
  format($$ select count(*)::int from public.casfolio_items where user_id in (%L, %L) $$,
         tests.get_supabase_uid('alice'), tests.get_supabase_uid('bob')),
  $$ values (2) $$,
  'bob''s legacy rows are all still there');

-- ---------------------------------------------------------------------------------------------
-- Constraints the migration relies on
-- ---------------------------------------------------------------------------------------------
select throws_ok(
  format($$ insert into public.activities (user_id, kind, title, legacy_id)
            values (%L, 'portfolio', 'again', 'a0000000-0000-4000-8000-000000000001'),
                   (%L, 'portfolio', 'again', 'a0000000-0000-4000-8000-000000000001') $$,
         tests.get_supabase_uid('alice'), tests.get_supabase_uid('alice')),
  '23505', null,
  'a legacy row becomes at most one activity per user and kind');
select throws_ok(
  format($$ insert into public.activity_assets (activity_id, user_id, path, kind)
            values ('a0000000-0000-4000-8000-000000000003', %L, %L, 'thumbnail') $$,
         tests.get_supabase_uid('alice'), tests.get_supabase_uid('alice') || '/t.png'),
  '23514', null,
  'an asset kind is hero or image');
select throws_ok(
  format($$ insert into public.user_migrations (user_id, status) values (%L, 'completed') $$,
         tests.get_supabase_uid('alice')),
  '23514', null,
  'a finished run carries its finish time');

-- Deleting an activity takes its assets with it.
delete from public.activities where id = 'a0000000-0000-4000-8000-000000000003';
select results_eq(
  $$ select count(*)::int from public.activity_assets
      where activity_id = 'a0000000-0000-4000-8000-000000000003' $$,
  $$ values (0) $$,
  'an activity''s assets go with it');

select tests.authenticate_as_anon();
select throws_ok($$ select 1 from public.activities $$, '42501',
                 'permission denied for table activities', 'anon cannot read activities');

select * from finish();
rollback;
