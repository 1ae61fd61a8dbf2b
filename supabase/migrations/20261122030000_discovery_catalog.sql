-- Discovery, part 1: the interest catalog, marketplace categories and candidates, users'
-- interests and intent signals, marketplace gaps, ensure_category_for_interest(), and the
-- gap assessment the rocker-discovery-run worker calls. Nothing here depends on the queue or
-- flag migrations; the parts that do (enqueue, the signup trigger, suggestions, schedules) are
-- in the next discovery migration.


-- =============================================================================================
-- Catalog: interests, categories, the mapping between them, candidates
-- =============================================================================================

-- What a user can say they are into. Curated by operators (service_role); every signed-in user
-- reads it to pick interests. `slug` is the stable handle clients and seeds use.
create table public.interest_catalog (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique
    check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and pg_catalog.length(slug) <= 100),
  name text not null check (pg_catalog.length(pg_catalog.btrim(name)) between 1 and 200),
  description text,
  created_at timestamptz not null default now()
);

-- Where marketplace inventory is filed. Created by operators, or by
-- ensure_category_for_interest() for an interest that has none yet.
create table public.marketplace_categories (
  id uuid primary key default gen_random_uuid(),
  slug text not null unique
    check (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$' and pg_catalog.length(slug) <= 100),
  name text not null check (pg_catalog.length(pg_catalog.btrim(name)) between 1 and 200),
  created_at timestamptz not null default now()
);

-- Which categories serve an interest (many-to-many). Suggestions walk it from interest to
-- category (the primary key's leading column); the category index serves the reverse walk and
-- the cascade when a category is deleted.
create table public.marketplace_interest_map (
  interest_id uuid not null references public.interest_catalog (id) on delete cascade,
  category_id uuid not null references public.marketplace_categories (id) on delete cascade,
  created_at timestamptz not null default now(),
  primary key (interest_id, category_id)
);
create index marketplace_interest_map_category_idx
  on public.marketplace_interest_map (category_id);

-- Things the marketplace can offer, filed under one category. `popularity` is a non-negative
-- score from the marketplace (any scale; suggestions saturate it, see below); `active = false`
-- hides a candidate without deleting it. Deleting a category with candidates is refused
-- (restrict): inventory is not dropped by accident.
create table public.marketplace_candidates (
  id uuid primary key default gen_random_uuid(),
  category_id uuid not null references public.marketplace_categories (id) on delete restrict,
  title text not null check (pg_catalog.length(pg_catalog.btrim(title)) between 1 and 500),
  url text check (url is null or url ~* '^https?://'),
  popularity real not null default 0 check (popularity >= 0 and popularity <> 'NaN'::real
                                            and popularity <> 'Infinity'::real),
  active boolean not null default true,
  metadata jsonb not null default '{}'::jsonb check (pg_catalog.jsonb_typeof(metadata) = 'object'),
  created_at timestamptz not null default now()
);
-- The two hot predicates, suggestions and gap counting, are both "active candidates in category
-- X"; inactive rows stay out of the index. It carries every column suggestions score from (id
-- included), so scoring is an index-only scan; title is fetched only for the rows returned.
create index marketplace_candidates_suggest_idx
  on public.marketplace_candidates (category_id) include (id, popularity, created_at)
  where active;


-- =============================================================================================
-- Per-user state: interests and intent signals
-- =============================================================================================

-- What each user picked, with how strongly (affinity 0–1). The primary key (user_id first)
-- serves "this user's interests", the hot path of suggestions and enqueue; the interest index
-- serves the cascade when an interest is retired.
create table public.user_interests (
  user_id uuid not null references auth.users (id) on delete cascade,
  interest_id uuid not null references public.interest_catalog (id) on delete cascade,
  affinity real not null default 0.5 check (affinity >= 0 and affinity <= 1),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (user_id, interest_id)
);
create index user_interests_interest_idx on public.user_interests (interest_id);

-- Behavioural evidence of interest (a click, a save, a search), appended by the client as the
-- user acts. Kept raw: later issues aggregate it into affinities and ranker features.
create table public.intent_signals (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  interest_id uuid not null references public.interest_catalog (id) on delete cascade,
  signal text not null check (signal ~ '^[a-z][a-z0-9_.:-]*$' and pg_catalog.length(signal) <= 64),
  weight real not null default 1 check (weight >= -1000 and weight <= 1000),
  created_at timestamptz not null default now()
);
-- RLS filters on user_id, and readers want a user's newest signals first.
create index intent_signals_user_created_idx on public.intent_signals (user_id, created_at desc);
create index intent_signals_interest_idx on public.intent_signals (interest_id);

-- Keeps user_interests.updated_at honest whoever writes the row (client, worker, console).
create function ops.discovery_touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := pg_catalog.now();
  return new;
end
$$;
revoke all on function ops.discovery_touch_updated_at() from public;

create trigger user_interests_touch_updated_at
  before update on public.user_interests
  for each row execute function ops.discovery_touch_updated_at();


-- =============================================================================================
-- Gaps: where the marketplace has too little for an interest
-- =============================================================================================

-- One row per episode of "category X has fewer than the threshold of active candidates for
-- interest Y": opened by rocker-discovery-run, refreshed while it lasts, closed (resolved_at)
-- once there are enough. History is kept; the partial unique index allows at most one open gap
-- per (interest, category), which is what makes concurrent workers' inserts idempotent.
create table public.marketplace_gaps (
  id bigint generated always as identity primary key,
  interest_id uuid not null references public.interest_catalog (id) on delete cascade,
  category_id uuid not null references public.marketplace_categories (id) on delete cascade,
  candidate_count int not null check (candidate_count >= 0),
  reason text not null,
  detected_at timestamptz not null default now(),
  resolved_at timestamptz,
  check (resolved_at is null or resolved_at >= detected_at)
);
create unique index marketplace_gaps_one_open_idx
  on public.marketplace_gaps (interest_id, category_id) where resolved_at is null;
create index marketplace_gaps_category_idx on public.marketplace_gaps (category_id);


-- =============================================================================================
-- RLS and grants
-- =============================================================================================

alter table public.interest_catalog enable row level security;
alter table public.marketplace_categories enable row level security;
alter table public.marketplace_interest_map enable row level security;
alter table public.marketplace_candidates enable row level security;
alter table public.user_interests enable row level security;
alter table public.intent_signals enable row level security;
alter table public.marketplace_gaps enable row level security;

-- Catalog tables: every signed-in user reads them; only service_role (which bypasses RLS)
-- writes. anon gets nothing: the catalog is part of the signed-in product.
create policy interest_catalog_read on public.interest_catalog
  for select to authenticated using (true);
create policy marketplace_categories_read on public.marketplace_categories
  for select to authenticated using (true);
create policy marketplace_interest_map_read on public.marketplace_interest_map
  for select to authenticated using (true);
-- Inactive candidates are the marketplace's business, not the user's.
create policy marketplace_candidates_read on public.marketplace_candidates
  for select to authenticated using (active);

revoke all on public.interest_catalog, public.marketplace_categories,
  public.marketplace_interest_map, public.marketplace_candidates
  from public, anon, authenticated, service_role;
grant select on public.interest_catalog, public.marketplace_categories,
  public.marketplace_interest_map, public.marketplace_candidates to authenticated;
grant select, insert, update, delete on public.interest_catalog, public.marketplace_categories,
  public.marketplace_interest_map, public.marketplace_candidates to service_role;

-- A user's own interests and signals, and nobody else's. `(select auth.uid())` is evaluated
-- once per statement (an InitPlan), not once per row.
create policy user_interests_own on public.user_interests
  for all to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));
create policy intent_signals_own on public.intent_signals
  for all to authenticated
  using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));

revoke all on public.user_interests, public.intent_signals
  from public, anon, authenticated, service_role;
-- Users may change an interest's affinity but not re-key the row.
grant select, insert, delete on public.user_interests to authenticated;
grant update (affinity) on public.user_interests to authenticated;
-- Signals are an append-only log for the user (they may delete their own, e.g. "forget this"):
-- no update, because a signal records something that happened and aggregates are built from
-- it; a correction is a new signal. See docs/discovery.md.
grant select, insert, delete on public.intent_signals to authenticated;
grant select, insert, update, delete on public.user_interests, public.intent_signals
  to service_role;

-- Gaps are operator and worker data.
revoke all on public.marketplace_gaps from public, anon, authenticated, service_role;
grant select, insert, update, delete on public.marketplace_gaps to service_role;

revoke all on sequence public.intent_signals_id_seq, public.marketplace_gaps_id_seq
  from public, anon, authenticated, service_role;
grant usage on sequence public.intent_signals_id_seq to authenticated, service_role;
grant usage on sequence public.marketplace_gaps_id_seq to service_role;


-- =============================================================================================
-- public.ensure_category_for_interest
-- =============================================================================================

-- The category that serves an interest: the mapped one (the oldest mapping, then the lowest id,
-- when several are), else a category with the interest's slug and name, created together with
-- the mapping (or an existing category with that slug, mapped). Idempotent and safe under
-- concurrency: a per-interest advisory lock serialises the create path, so two workers never
-- make two categories for one interest.
--
-- Errors: null → 22023; an id not in interest_catalog → P0002 'unknown interest: <id>'.
-- Invoker rights: it writes catalog tables, which only service_role (and the owner) may.
create function public.ensure_category_for_interest(p_interest_id uuid)
returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_interest public.interest_catalog%rowtype;
  v_category_id uuid;
begin
  -- GUARD: arguments
  if p_interest_id is null then
    raise exception 'p_interest_id must not be null' using errcode = '22023';
  end if;

  -- FAST PATH: already mapped (no lock taken)
  select m.category_id into v_category_id
  from public.marketplace_interest_map m
  where m.interest_id = p_interest_id
  order by m.created_at, m.category_id
  limit 1;
  if v_category_id is not null then
    return v_category_id;
  end if;

  select * into v_interest from public.interest_catalog i where i.id = p_interest_id;
  if not found then
    raise exception 'unknown interest: %', p_interest_id using errcode = 'P0002';
  end if;

  -- CREATE PATH: serialised per interest; re-check under the lock.
  perform pg_catalog.pg_advisory_xact_lock(
    pg_catalog.hashtextextended('discovery.ensure_category:' || p_interest_id::text, 0));
  select m.category_id into v_category_id
  from public.marketplace_interest_map m
  where m.interest_id = p_interest_id
  order by m.created_at, m.category_id
  limit 1;
  if v_category_id is not null then
    return v_category_id;
  end if;

  -- A category named like the interest may already exist (made by an operator, or for another
  -- interest with the same slug history): reuse it rather than fail on the unique slug.
  insert into public.marketplace_categories (slug, name)
  values (v_interest.slug, v_interest.name)
  on conflict (slug) do nothing
  returning id into v_category_id;
  if v_category_id is null then
    select c.id into v_category_id from public.marketplace_categories c
    where c.slug = v_interest.slug;
  end if;

  insert into public.marketplace_interest_map (interest_id, category_id)
  values (p_interest_id, v_category_id)
  on conflict do nothing;
  return v_category_id;
end
$$;
revoke all on function public.ensure_category_for_interest(uuid) from public;
grant execute on function public.ensure_category_for_interest(uuid) to service_role;


-- =============================================================================================
-- ops.discovery_assess_interests — the work of one rocker-discovery-run batch
-- =============================================================================================

-- For each interest: ensure it has a category, then for every category mapped to it count the
-- active candidates; fewer than p_threshold opens a gap (or refreshes the open one's count), at
-- least p_threshold resolves the open gap; an open gap of a category no longer mapped to the
-- interest is resolved too. One call per leased batch, with each distinct interest once (many
-- queued items share an interest), so the worker makes a constant number of round trips per
-- batch.
--
-- Each interest runs in its own subtransaction: one that fails (e.g. deleted from the catalog
-- after it was queued) reports its error and leaves the others' work intact, so the worker can
-- ack the items that succeeded and fail only the ones that did not.
--
-- Returns one row per input interest: ok, error (null when ok), gaps_opened, gaps_resolved.
-- Invoker rights: service_role holds the grants it needs.
create function ops.discovery_assess_interests(p_interest_ids uuid[], p_threshold int)
returns table (interest_id uuid, ok boolean, error text, gaps_opened int, gaps_resolved int)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_interest uuid;
  v_opened int;
  v_resolved int;
  v_n int;
  v_category uuid;
  v_count int;
begin
  -- GUARD: arguments
  if p_threshold is null or p_threshold < 1 or p_threshold > 1000000 then
    raise exception 'p_threshold must be between 1 and 1000000' using errcode = '22023';
  end if;

  foreach v_interest in array coalesce(p_interest_ids, '{}'::uuid[]) loop
    interest_id := v_interest;
    v_opened := 0;
    v_resolved := 0;
    begin
      perform public.ensure_category_for_interest(v_interest);

      for v_category, v_count in
        select m.category_id,
               (select pg_catalog.count(*)::int
                  from public.marketplace_candidates c
                 where c.category_id = m.category_id and c.active)
        from public.marketplace_interest_map m
        where m.interest_id = v_interest
      loop
        if v_count < p_threshold then
          -- OPEN (or refresh the count of the gap already open)
          insert into public.marketplace_gaps as g (interest_id, category_id, candidate_count, reason)
          values (v_interest, v_category, v_count,
                  pg_catalog.format('%s active candidate(s), fewer than the threshold of %s',
                                    v_count, p_threshold))
          on conflict (interest_id, category_id) where resolved_at is null
          do update set candidate_count = excluded.candidate_count, reason = excluded.reason
            where g.candidate_count is distinct from excluded.candidate_count
               or g.reason is distinct from excluded.reason
          returning (xmax = 0)::int into v_n;
          v_opened := v_opened + coalesce(v_n, 0);
        else
          -- RESOLVE
          update public.marketplace_gaps g
             set resolved_at = pg_catalog.now(), candidate_count = v_count
           where g.interest_id = v_interest and g.category_id = v_category
             and g.resolved_at is null;
          get diagnostics v_n = row_count;
          v_resolved := v_resolved + v_n;
        end if;
      end loop;

      -- RESOLVE ORPHANS: an open gap whose interest → category mapping has been removed is no
      -- longer anyone's to-do (the category no longer serves the interest); the loop above
      -- never visits it, so close it here or it stays open forever.
      update public.marketplace_gaps g
         set resolved_at = pg_catalog.now()
       where g.interest_id = v_interest
         and g.resolved_at is null
         and not exists (select 1 from public.marketplace_interest_map m
                          where m.interest_id = g.interest_id and m.category_id = g.category_id);
      get diagnostics v_n = row_count;
      v_resolved := v_resolved + v_n;

      ok := true;
      error := null;
      gaps_opened := v_opened;
      gaps_resolved := v_resolved;
    exception when others then
      ok := false;
      error := pg_catalog.format('%s (SQLSTATE %s)', sqlerrm, sqlstate);
      gaps_opened := 0;
      gaps_resolved := 0;
    end;
    return next;
  end loop;
end
$$;
revoke all on function ops.discovery_assess_interests(uuid[], int) from public;
grant execute on function ops.discovery_assess_interests(uuid[], int) to service_role;
