-- Legacy migration, part 4: the two private buckets and who may touch their objects. The legacy
-- images sit in `casfolio-legacy`, the migrated ones in `activity-assets`, both at
-- `<user_id>/…`. The legacy-migration function calls Storage with the caller's own JWT, so
-- these policies are what keep one user's migration away from another's files.
-- docs/legacy-migration.md.

-- Private: objects are served only to a caller a policy admits (or through signed URLs).
-- `on conflict do nothing` keeps a bucket an operator or `supabase seed buckets` created first.
insert into storage.buckets (id, name, public)
values ('activity-assets', 'activity-assets', false),
       ('casfolio-legacy', 'casfolio-legacy', false)
on conflict (id) do nothing;

-- A signed-in user reads and writes only objects under their own user-id folder, in either
-- bucket. Storage checks select + insert for a copy, select + delete for a remove and select +
-- insert + update for an upsert, so each command has its policy. `(select auth.uid())` is
-- evaluated once per statement.
create policy legacy_buckets_read_own on storage.objects
  for select to authenticated
  using (bucket_id in ('activity-assets', 'casfolio-legacy')
         and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy legacy_buckets_insert_own on storage.objects
  for insert to authenticated
  with check (bucket_id in ('activity-assets', 'casfolio-legacy')
              and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy legacy_buckets_update_own on storage.objects
  for update to authenticated
  using (bucket_id in ('activity-assets', 'casfolio-legacy')
         and (storage.foldername(name))[1] = (select auth.uid())::text)
  with check (bucket_id in ('activity-assets', 'casfolio-legacy')
              and (storage.foldername(name))[1] = (select auth.uid())::text);
create policy legacy_buckets_delete_own on storage.objects
  for delete to authenticated
  using (bucket_id in ('activity-assets', 'casfolio-legacy')
         and (storage.foldername(name))[1] = (select auth.uid())::text);
