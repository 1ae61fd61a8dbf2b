-- Discovery, part 3: per-user marketplace suggestions, gated by the `marketplace.suggest` flag
-- (flags migration 20261122020000).


-- =============================================================================================
-- public.marketplace_suggestions_for_user
-- =============================================================================================

-- Active candidates in the categories mapped to the user's interests, best first, each candidate
-- once (through the interest that scores it highest).
--
-- Score, in [0, 1]:
--   score = affinity × (0.5 + 0.3 × popularity / (1 + popularity) + 0.2 × exp(−age_days / 30))
-- affinity (0–1, the user's) scales everything, so a weak interest never outranks a strong one
-- by popularity alone; popularity (≥ 0, any scale) saturates, so one viral item cannot swamp a
-- category; recency decays with a 30-day time constant (a candidate a month old keeps 37 % of
-- the recency share). The 0.5 floor keeps an old, unpopular candidate of a strong interest
-- above nothing. Ties break by candidate id, so equal scores page deterministically.
-- `reason` is machine-readable, 'interest:<slug>', for the client to phrase.
--
-- Who may ask: a user for themselves (p_user_id = auth.uid()); service_role, and roles that
-- bypass RLS (the owner in the SQL console: the runbook), for anyone. Anyone else → 42501.
-- When marketplace.suggest is off for the user (flag_enabled, percentage rollouts included)
-- it returns no rows. p_limit outside 1–100 → 22023.
--
-- SECURITY INVOKER: a user reads user_interests under their own RLS, and the identity check
-- above is an early, explicit refusal rather than the only barrier.
--
-- Speed (p95 < 10 ms with 100,000 users, 1,000,000 user_interests, 100,000 candidates;
-- bench/discovery.bench.ts): scoring is an index-only scan of marketplace_candidates_suggest_idx;
-- recency uses date_part('epoch', …) (double precision) rather than extract(epoch …), which is
-- numeric since Postgres 14 and cost ~3 µs a row; and the query inside always uses its cached
-- generic plan (plan_cache_mode), since its shape does not depend on the user and re-planning it
-- per call cost more than running it.
create function public.marketplace_suggestions_for_user(p_user_id uuid, p_limit int default 12)
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
