-- Discovery, part 4: make marketplace_suggestions_for_user meet its latency target (p95 < 10 ms
-- with 100,000 users, 1,000,000 user_interests and 100,000 candidates; bench/discovery.bench.ts).
-- Three changes, same results:
--   * the candidates index also carries `id`, so scoring is an index-only scan (the earlier index
--     lacked it and every scored candidate was a heap visit);
--   * recency uses date_part('epoch', …), which is double precision, instead of
--     extract(epoch …), which is numeric since Postgres 14 and made scoring ~3 µs a row;
--   * the query inside always uses its cached generic plan (plan_cache_mode): its shape does not
--     depend on the user, and re-planning it per call cost more than executing it.
-- The function body is otherwise unchanged (see 20261122030200_discovery_suggestions.sql for the
-- formula and the access rules).


-- =============================================================================================
-- Index
-- =============================================================================================

-- "Active candidates in category X" for suggestions and gap counting, with every column
-- suggestions score from. A plain (not concurrent) build: migrations run in a transaction, and
-- the table is new with this feature. On a large live table, build the new index concurrently
-- by hand first; this migration then only drops the old one.
create index if not exists marketplace_candidates_suggest_idx
  on public.marketplace_candidates (category_id) include (id, popularity, created_at)
  where active;
drop index if exists public.marketplace_candidates_active_category_idx;


-- =============================================================================================
-- public.marketplace_suggestions_for_user (same contract; see the previous migration's comment)
-- =============================================================================================

create or replace function public.marketplace_suggestions_for_user(p_user_id uuid, p_limit int default 12)
returns table (
  candidate_id uuid,
  title text,
  category_id uuid,
  interest_id uuid,
  score double precision,
  reason text
)
language plpgsql
stable
set search_path = ''
-- Planning the join per call (plpgsql's custom plans) took ~40 % of the call; the generic plan
-- is the same index-driven plan for every user.
set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
begin
  -- GUARD: arguments
  if p_user_id is null then
    raise exception 'p_user_id must not be null' using errcode = '22023';
  end if;
  if p_limit is null or p_limit < 1 or p_limit > 100 then
    raise exception 'p_limit must be between 1 and 100' using errcode = '22023';
  end if;

  -- GUARD: a user asks only for themselves
  if p_user_id is distinct from auth.uid()
     and not coalesce((select r.rolbypassrls from pg_catalog.pg_roles r
                       where r.rolname = current_user), false)
  then
    raise exception 'a user may only ask for their own suggestions' using errcode = '42501';
  end if;

  -- GUARD: the feature flag (kill switch and canary)
  if not public.flag_enabled('marketplace.suggest', p_user_id) then
    return;
  end if;

  -- Score from the index alone (index-only scan of marketplace_candidates_suggest_idx), keep
  -- each candidate's best interest, then fetch titles only for the rows returned.
  return query
  with scored as (
    select c.id as candidate_id,
           c.category_id,
           ui.interest_id,
           ui.affinity::double precision
             * (0.5
                + 0.3 * (c.popularity::double precision / (1 + c.popularity::double precision))
                + 0.2 * pg_catalog.exp(
                    -greatest(pg_catalog.date_part('epoch', pg_catalog.now() - c.created_at), 0)
                    / (30 * 86400.0))) as score
    from public.user_interests ui
    join public.marketplace_interest_map m on m.interest_id = ui.interest_id
    join public.marketplace_candidates c on c.category_id = m.category_id and c.active
    where ui.user_id = p_user_id
  ),
  best as (
    select distinct on (s.candidate_id) s.candidate_id, s.category_id, s.interest_id, s.score
    from scored s
    order by s.candidate_id, s.score desc, s.interest_id
  ),
  chosen as (
    select b.* from best b order by b.score desc, b.candidate_id limit p_limit
  )
  select t.candidate_id, c.title, t.category_id, t.interest_id, t.score, 'interest:' || i.slug
  from chosen t
  join public.marketplace_candidates c on c.id = t.candidate_id
  join public.interest_catalog i on i.id = t.interest_id
  order by t.score desc, t.candidate_id;
end
$$;
revoke all on function public.marketplace_suggestions_for_user(uuid, int) from public;
grant execute on function public.marketplace_suggestions_for_user(uuid, int)
  to authenticated, service_role;
