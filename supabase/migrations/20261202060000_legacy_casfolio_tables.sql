-- Legacy migration, part 1: the casfolio portfolio tables as the legacy app left them. A user's
-- portfolio has a hero image and items, each with an optional image; the images live in the
-- private `casfolio-legacy` bucket under the owner's user-id folder (storage migration). The
-- legacy-migration function moves a user's rows to public.activities / public.activity_assets
-- and then deletes them here. docs/legacy-migration.md.
--
-- The columns are as loose as the legacy app's were (a hero path may be missing, a path may
-- point anywhere): the function's preflight is what refuses rows it cannot move, naming them,
-- so the checks below only keep out what no reader could use.


-- =============================================================================================
-- public.casfolio_portfolios
-- =============================================================================================

-- One legacy portfolio: a title, a description and the path of its hero image in the legacy
-- bucket (`<user_id>/<file>`).
create table public.casfolio_portfolios (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  title text not null,
  description text,
  hero_image_path text,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now()
);

comment on table public.casfolio_portfolios is
  'Legacy casfolio portfolios (hero image in the casfolio-legacy bucket), moved to activities '
  'by the legacy-migration function. docs/legacy-migration.md.';

create index casfolio_portfolios_user_id_idx on public.casfolio_portfolios (user_id);


-- =============================================================================================
-- public.casfolio_items
-- =============================================================================================

-- One entry of a legacy portfolio, with an optional image in the legacy bucket. user_id is the
-- legacy app's own copy of the owner (its RLS keyed on it); the preflight checks that it agrees
-- with the portfolio's.
create table public.casfolio_items (
  id uuid primary key default gen_random_uuid(),
  portfolio_id uuid not null references public.casfolio_portfolios (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  title text not null,
  description text,
  image_path text,
  position int not null default 0,
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now()
);

comment on table public.casfolio_items is
  'Legacy casfolio portfolio items (optional image in the casfolio-legacy bucket), moved to '
  'activities by the legacy-migration function. docs/legacy-migration.md.';

create index casfolio_items_user_id_idx on public.casfolio_items (user_id);
create index casfolio_items_portfolio_id_idx on public.casfolio_items (portfolio_id);


-- =============================================================================================
-- RLS and grants
-- =============================================================================================

alter table public.casfolio_portfolios enable row level security;
alter table public.casfolio_items enable row level security;

-- The migration runs as the caller, so it reads and deletes the caller's rows only; nobody
-- reads another user's. `(select auth.uid())` is evaluated once per statement.
create policy casfolio_portfolios_own on public.casfolio_portfolios
  for all to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));
create policy casfolio_items_own on public.casfolio_items
  for all to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));
-- Operators (reseeding after a PITR restore, support) act as service_role; stated although
-- service_role bypasses RLS.
create policy casfolio_portfolios_service_all on public.casfolio_portfolios
  for all to service_role using (true) with check (true);
create policy casfolio_items_service_all on public.casfolio_items
  for all to service_role using (true) with check (true);

revoke all on public.casfolio_portfolios, public.casfolio_items
  from public, anon, authenticated, service_role;
-- Users read their legacy rows and the migration deletes them; the legacy app that wrote them
-- is retired, so nobody inserts or edits them any more.
grant select, delete on public.casfolio_portfolios, public.casfolio_items to authenticated;
grant select, insert, update, delete on public.casfolio_portfolios, public.casfolio_items
  to service_role;
