-- Legacy migration, part 2: the new model the legacy portfolios move to. A portfolio becomes
-- one activity (kind 'portfolio') with its hero image as a 'hero' asset; each item becomes one
-- activity (kind 'portfolio_item') with its image, if any, as an 'image' asset. The files live
-- in the private `activity-assets` bucket at `<user_id>/<activity_id>/<file>`.
-- docs/legacy-migration.md.


-- =============================================================================================
-- public.activities
-- =============================================================================================

-- Something a user did or made, shown on their timeline at occurred_at. legacy_id is the id of
-- the casfolio row it came from (null for activities created in the new app), unique per user
-- and kind so a row can never be migrated twice.
create table public.activities (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  kind text not null check (pg_catalog.length(kind) between 1 and 50),
  title text not null check (pg_catalog.length(pg_catalog.btrim(title)) between 1 and 500),
  body text,
  occurred_at timestamptz not null default pg_catalog.now(),
  legacy_id uuid,
  created_at timestamptz not null default pg_catalog.now(),
  -- The target of activity_assets' (activity_id, user_id) key: an asset always belongs to the
  -- owner of its activity.
  unique (id, user_id)
);

comment on table public.activities is
  'A user''s activities (timeline entries); migrated casfolio portfolios and items carry '
  'legacy_id. docs/legacy-migration.md.';

-- The timeline: a user's activities, newest first.
create index activities_user_occurred_idx on public.activities (user_id, occurred_at desc);
create unique index activities_user_kind_legacy_id_key on public.activities (user_id, kind, legacy_id)
  where legacy_id is not null;


-- =============================================================================================
-- public.activity_assets
-- =============================================================================================

-- A file attached to an activity: its object in Storage (bucket, path) and, for migrated
-- files, where it was in the legacy bucket. The path must lie in the owner's user-id folder,
-- the folder the storage policies let them read.
create table public.activity_assets (
  id uuid primary key default gen_random_uuid(),
  activity_id uuid not null,
  user_id uuid not null,
  bucket text not null default 'activity-assets'
    check (pg_catalog.length(bucket) between 1 and 100),
  path text not null check (pg_catalog.split_part(path, '/', 1) = user_id::text),
  kind text not null check (kind in ('hero', 'image')),
  legacy_path text,
  created_at timestamptz not null default pg_catalog.now(),
  foreign key (activity_id, user_id) references public.activities (id, user_id) on delete cascade,
  unique (bucket, path)
);

comment on table public.activity_assets is
  'Files of an activity in Storage (activity-assets bucket, owner''s folder); legacy_path is '
  'where a migrated file was. docs/legacy-migration.md.';

create index activity_assets_activity_id_idx on public.activity_assets (activity_id);
create index activity_assets_user_id_idx on public.activity_assets (user_id);


-- =============================================================================================
-- RLS and grants
-- =============================================================================================

alter table public.activities enable row level security;
alter table public.activity_assets enable row level security;

-- Each user reads and writes their own activities and assets, and nobody else's: the
-- legacy-migration function writes them as the caller, so these policies bound it too.
create policy activities_own on public.activities
  for all to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));
create policy activity_assets_own on public.activity_assets
  for all to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));
-- Stated although service_role bypasses RLS.
create policy activities_service_all on public.activities
  for all to service_role using (true) with check (true);
create policy activity_assets_service_all on public.activity_assets
  for all to service_role using (true) with check (true);

revoke all on public.activities, public.activity_assets
  from public, anon, authenticated, service_role;
grant select, insert, update, delete on public.activities, public.activity_assets
  to authenticated, service_role;
