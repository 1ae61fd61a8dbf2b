-- The two buckets of the legacy migration exist and are private, and storage.objects' policies
-- let a signed-in user read, write and delete only under their own user-id folder in them:
-- what Storage checks when the function copies and removes objects with the caller's JWT.
begin;
select plan(11);

-- Storage sets this for its own deletes; plain SQL deletes are refused without it.
select from set_config('storage.allow_delete_query', 'true', true);
select from tests.create_supabase_user('alice');
select from tests.create_supabase_user('bob');

select results_eq(
  $$ select id, public from storage.buckets where id in ('activity-assets', 'casfolio-legacy')
     order by id $$,
  $$ values ('activity-assets'::text, false), ('casfolio-legacy'::text, false) $$,
  'both buckets exist and are private');

insert into storage.objects (bucket_id, name) values
  ('casfolio-legacy', tests.get_supabase_uid('alice') || '/test-hero.png'),
  ('casfolio-legacy', tests.get_supabase_uid('bob') || '/test-hero.png'),
  ('activity-assets', tests.get_supabase_uid('bob') || '/a/test-hero.png');

select tests.authenticate_as('alice');

select results_eq(
  $$ select name from storage.objects where name like '%/test-hero.png' $$,
  format($$ values (%L::text) $$, tests.get_supabase_uid('alice') || '/test-hero.png'),
  'alice sees only her own legacy object');
select lives_ok(
  format($$ insert into storage.objects (bucket_id, name, owner_id)
            values ('activity-assets', %L, auth.uid()::text) $$,
         tests.get_supabase_uid('alice') || '/act/test-hero.png'),
  'alice can copy into her folder of activity-assets');
select throws_ok(
  format($$ insert into storage.objects (bucket_id, name) values ('activity-assets', %L) $$,
         tests.get_supabase_uid('bob') || '/act/test-hero.png'),
  '42501', 'new row violates row-level security policy for table "objects"',
  'alice cannot write into bob''s folder');
select throws_ok(
  format($$ insert into storage.objects (bucket_id, name) values ('activity-assets', %L) $$,
         'test-hero.png'),
  '42501', 'new row violates row-level security policy for table "objects"',
  'nor at the top of the bucket');
select throws_ok(
  format($$ update storage.objects set name = %L
             where name = %L $$,
         tests.get_supabase_uid('bob') || '/moved.png',
         tests.get_supabase_uid('alice') || '/test-hero.png'),
  '42501', 'new row violates row-level security policy for table "objects"',
  'alice cannot move her object into bob''s folder');
select results_eq(
  format($$ with d as (delete from storage.objects where name in (%L, %L) returning 1)
            select count(*)::int from d $$,
         tests.get_supabase_uid('bob') || '/test-hero.png',
         tests.get_supabase_uid('bob') || '/a/test-hero.png'),
  $$ values (0) $$,
  'alice cannot delete bob''s objects');
select results_eq(
  format($$ with d as (delete from storage.objects where name = %L returning 1)
            select count(*)::int from d $$,
         tests.get_supabase_uid('alice') || '/test-hero.png'),
  $$ values (1) $$,
  'alice can delete her own legacy object (the purge)');

select tests.authenticate_as('bob');
select results_eq(
  $$ select bucket_id, name from storage.objects where name like '%test-hero.png' order by 1, 2 $$,
  format($$ values ('activity-assets'::text, %L::text), ('casfolio-legacy', %L) $$,
         tests.get_supabase_uid('bob') || '/a/test-hero.png',
         tests.get_supabase_uid('bob') || '/test-hero.png'),
  'bob sees his two objects and nothing of alice''s');

select tests.authenticate_as_anon();
select is_empty(
  $$ select 1 from storage.objects where bucket_id in ('activity-assets', 'casfolio-legacy') $$,
  'anon sees nothing in either bucket');

select tests.clear_authentication();
select is(
  (select count(*)::int from storage.objects where name like '%test-hero.png'),
  3,
  'what was refused left no trace: bob''s two objects and alice''s copy');

select * from finish();
rollback;
