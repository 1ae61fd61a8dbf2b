-- Learning, part 2: the feature store the ranker scores from, and the SQL the policy-ranker and
-- hydrate-features functions call: ops.hydrate_features (incremental, from a watermark),
-- public.ranker_candidate_scores and public.ranker_fallback_slate. docs/learning.md.


-- =============================================================================================
-- Scoring formulas (one place each; immutable so tables and indexes can use them)
-- =============================================================================================

-- A candidate's reward rate: the posterior mean of a Beta(α = 1, β = 1) prior (uniform; Laplace's
-- rule of succession) after `p_rewards` rewarded slots whose rewards sum to `p_reward_sum`,
-- each reward counted as a fractional success: (α + Σr) / (α + β + n) = (1 + Σr) / (2 + n).
-- A candidate never rewarded gets the prior mean 0.5, never 0 or 1, and one outcome moves it by a
-- third at most: new candidates start optimistic and the ranker's exploration settles them.
-- Only rewarded slots count in n: a slot without a reward is an unknown outcome (it may still
-- arrive), not a zero.
create function public.learning_reward_rate(p_reward_sum double precision, p_rewards bigint)
returns double precision
language sql
immutable
parallel safe
set search_path = ''
as $$
  select (1.0 + p_reward_sum) / (2.0 + p_rewards)
$$;
revoke all on function public.learning_reward_rate(double precision, bigint) from public;
grant execute on function public.learning_reward_rate(double precision, bigint) to service_role;

-- Popularity is recent engagement: the positive reward mass a candidate received, decaying with
-- a 7-day half-life (positive rewards rather than impressions, because impressions are the
-- ranker's own choice and counting them would feed its decisions back into its scores). It is
-- stored as of candidate_features.updated_at; ops.candidate_features_now gives it now.
--
-- An order-preserving key for "most popular now" that does not change with time:
-- log2(popularity at t) = log2(p) + epoch(as_of)/half-life − epoch(t)/half-life, and the last term
-- is the same for every row, so ordering by the rest ranks candidates by their popularity at any
-- moment. An index on it serves the fallback slate's "popular" list without decaying every row.
-- Null for zero popularity (nothing to rank). Immutable although date_part on timestamptz is
-- only stable: the epoch of an instant does not depend on the time zone.
create function public.learning_popularity_key(p_popularity double precision, p_as_of timestamptz)
returns double precision
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case when p_popularity > 0
              then pg_catalog.ln(p_popularity) / pg_catalog.ln(2.0::double precision)
                   + pg_catalog.date_part('epoch', p_as_of) / 604800.0 end
$$;
revoke all on function public.learning_popularity_key(double precision, timestamptz) from public;
grant execute on function public.learning_popularity_key(double precision, timestamptz)
  to service_role;


-- =============================================================================================
-- public.candidate_features / public.user_features
-- =============================================================================================

-- Per-candidate aggregates of the decision log, maintained incrementally by
-- ops.hydrate_features: impressions (slots it was placed in), rewards (rewarded slots),
-- reward_sum, reward_rate (Beta prior, see learning_reward_rate; generated so it can never
-- disagree with the counts), popularity (decayed positive reward mass as of updated_at, see
-- ops.candidate_features_now) and last_seen_at (its latest impression). Any candidate id the
-- ranker logs, marketplace or not. service_role only.
create table public.candidate_features (
  candidate_id text primary key check (pg_catalog.length(candidate_id) between 1 and 200),
  impressions bigint not null default 0,
  rewards bigint not null default 0,
  reward_sum double precision not null default 0,
  reward_rate double precision not null
    generated always as (public.learning_reward_rate(reward_sum, rewards)) stored,
  popularity double precision not null default 0,
  last_seen_at timestamptz,
  updated_at timestamptz not null default pg_catalog.now()
);

-- The feature store as of now(): popularity decayed to now (p·2^(−Δt/7 days)) and recency
-- 2^(−days since last_seen_at) (1 = seen just now). A view, so the formulas are written once and
-- inlined into each query that reads them (the ranker's hot path, the hydrate's update); a
-- function with `set search_path` would not be inlined and costs microseconds per row.
create view ops.candidate_features_now with (security_invoker = true) as
select f.candidate_id,
       f.impressions,
       f.rewards,
       f.reward_sum,
       f.reward_rate,
       f.popularity
         * pg_catalog.power(2.0::double precision,
             -greatest(pg_catalog.date_part('epoch', pg_catalog.now() - f.updated_at), 0)
               / 604800.0) as popularity,
       case when f.last_seen_at is null then 0.0::double precision
            else pg_catalog.power(2.0::double precision,
                   -greatest(pg_catalog.date_part('epoch', pg_catalog.now() - f.last_seen_at), 0)
                     / 86400.0) end as recency,
       f.last_seen_at,
       f.updated_at
from public.candidate_features f;

comment on table public.candidate_features is
  'Per-candidate features (impressions, rewards, reward_rate with a Beta(1,1) prior, '
  'popularity, last_seen_at), hydrated incrementally from learning_events. docs/learning.md.';

-- The fallback slate's "popular" list, in order, straight from the index.
create index candidate_features_popularity_idx
  on public.candidate_features (public.learning_popularity_key(popularity, updated_at) desc,
                                candidate_id)
  where popularity > 0;

-- Per-user features, recomputed from source for every user the hydrate touches:
-- affinities {"<interest id>": 0..1} (declared user_interests affinity, moved by at most ±0.25
-- by the last 30 days of intent_signals, see ops.hydrate_features) and recent_signals (the
-- newest 20 signals, newest first). No foreign key, like learning_events (a heartbeat user may
-- not exist); a deleted user's row is removed by the auth.users trigger below.
create table public.user_features (
  user_id uuid primary key,
  affinities jsonb not null default '{}'::jsonb
    check (pg_catalog.jsonb_typeof(affinities) = 'object'),
  recent_signals jsonb not null default '[]'::jsonb
    check (pg_catalog.jsonb_typeof(recent_signals) = 'array'),
  updated_at timestamptz not null default pg_catalog.now()
);

comment on table public.user_features is
  'Per-user features (interest affinities, recent signals), hydrated for the users seen in '
  'learning_events. docs/learning.md.';

alter table public.candidate_features enable row level security;
alter table public.user_features enable row level security;

-- The feature store is server-side state: the ranker and the hydrate (service_role) only.
-- Stated although service_role bypasses RLS.
create policy candidate_features_service_all on public.candidate_features
  for all to service_role using (true) with check (true);
create policy user_features_service_all on public.user_features
  for all to service_role using (true) with check (true);

revoke all on public.candidate_features, public.user_features
  from public, anon, authenticated, service_role;
grant select, insert, update, delete on public.candidate_features, public.user_features
  to service_role;
revoke all on ops.candidate_features_now from public, anon, authenticated, service_role;
grant select on ops.candidate_features_now to service_role;


-- =============================================================================================
-- A deleted user's learning rows go with them
-- =============================================================================================

-- learning_events and user_features have no foreign key to auth.users (see the tables), so
-- deleting a user removes their rows here. SECURITY DEFINER: the delete is made by Supabase
-- Auth's role, which has no rights on public tables. Aggregates in candidate_features are
-- anonymous counts and stay.
create function ops.learning_on_auth_user_deleted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.learning_events e where e.user_id = old.id;
  delete from public.user_features f where f.user_id = old.id;
  return null;
end
$$;
revoke all on function ops.learning_on_auth_user_deleted() from public;

create trigger learning_on_auth_user_deleted
  after delete on auth.users
  for each row execute function ops.learning_on_auth_user_deleted();


-- =============================================================================================
-- The hydrate's watermark and the writers' lock that makes it safe
-- =============================================================================================

-- Where the hydrate stopped: every learning_events row with id <= event_watermark has been
-- counted. One row; the last run's figures are kept for operators.
create table ops.learning_hydrate_state (
  singleton boolean primary key default true check (singleton),
  event_watermark bigint not null default 0 check (event_watermark >= 0),
  last_run_at timestamptz,
  last_events_read bigint,
  last_rewards_applied bigint,
  last_candidates_updated int,
  last_users_updated int
);
insert into ops.learning_hydrate_state default values;

comment on table ops.learning_hydrate_state is
  'ops.hydrate_features watermark (last learning_events id counted) and last run figures.';

alter table ops.learning_hydrate_state enable row level security;
create policy learning_hydrate_state_service on ops.learning_hydrate_state
  for all to service_role using (true) with check (true);
revoke all on ops.learning_hydrate_state from public, anon, authenticated, service_role;
grant select, update on ops.learning_hydrate_state to service_role;

-- Identity values are handed out in insert order but become visible in commit order: a row
-- with id 105 can commit after one with id 106. A watermark moved to 106 while 105 is still in
-- flight would skip 105 forever. So every statement that inserts into learning_events first
-- takes this advisory lock in shared mode (a BEFORE STATEMENT trigger, which fires before any
-- id is drawn), and the hydrate briefly takes it exclusively: that waits for every transaction
-- that may hold an unseen id to end, and the highest id visible then is a safe bound.
-- Shared holders never block each other, so writers only wait while a hydrate is queued.
create function ops.learning_writers_lock_key()
returns bigint
language sql
immutable
parallel safe
set search_path = ''
as $$
  select 7346190262518420001::bigint  -- fixed, arbitrary: names "learning_events writers"
$$;
revoke all on function ops.learning_writers_lock_key() from public;
grant execute on function ops.learning_writers_lock_key() to service_role;

create function ops.learning_events_writer_lock()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  perform pg_catalog.pg_advisory_xact_lock_shared(ops.learning_writers_lock_key());
  return null;
end
$$;
revoke all on function ops.learning_events_writer_lock() from public;

create trigger learning_events_writer_lock
  before insert on public.learning_events
  for each statement execute function ops.learning_events_writer_lock();


-- =============================================================================================
-- ops.hydrate_features — one incremental pass
-- =============================================================================================

-- Folds into the feature store what happened since the last pass and returns what it did:
--   events_read         learning_events rows counted (ids after the watermark, at most
--                       p_max_events of them, in id order)
--   candidates_updated  candidate_features rows inserted or updated
--   users_updated       user_features rows recomputed
--   watermark           the new watermark (last id counted)
-- Impressions come from learning_events past the watermark; rewards from
-- ops.learning_reward_log (so a reward that arrives after the watermark passed its slot is
-- counted once, when it arrives; see that table). Reward deltas are applied only for slots at
-- or below the new watermark, so a candidate's rewards never run ahead of its impressions.
-- For every user seen in either, user_features is recomputed from user_interests and the last
-- 30 days of intent_signals (a full recompute per user, so it cannot double count).
--
-- Never double counts:
--   * runs are serialised by the state row's lock (FOR UPDATE): an overlapping run waits, then
--     re-reads the committed watermark and continues after it;
--   * ids are bounded by the writers' lock (above), so no in-flight row is skipped;
--   * the watermark, the consumed reward deltas and the features change in one transaction.
-- Must run at READ COMMITTED: each statement has to see what committed while it waited.
-- Errors: p_max_events outside 1–1,000,000 → 22023; another isolation level → 25000;
-- writers still busy after 2 s → 55P03 (nothing changed; the next run retries).
-- Invoker rights: service_role (hydrate-features) and the owner.
create function ops.hydrate_features(p_max_events int default 100000)
returns table (events_read bigint, candidates_updated int, users_updated int, watermark bigint)
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_from bigint;
  v_bound bigint;
  v_last bigint;
  v_to bigint;
  v_read bigint;
  v_rewards bigint;
  v_candidates int;
  v_users int;
begin
  -- GUARD: arguments and isolation
  if p_max_events is null or p_max_events not between 1 and 1000000 then
    raise exception 'p_max_events must be between 1 and 1000000' using errcode = '22023';
  end if;
  if pg_catalog.current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'ops.hydrate_features must run at READ COMMITTED isolation'
      using errcode = '25000';
  end if;

  -- FENCE: one run at a time; a second run waits here and then starts from our watermark.
  select s.event_watermark into v_from
  from ops.learning_hydrate_state s
  where s.singleton
  for update;

  -- BOUND: wait for in-flight writers, read the highest visible id, release at once. Rolling
  -- back to the block's savepoint is what releases a transaction-level lock early (and undoes
  -- the lock_timeout setting), so the block ends by raising its own SQLSTATE.
  begin
    perform pg_catalog.set_config('lock_timeout', '2s', true);
    perform pg_catalog.pg_advisory_xact_lock(ops.learning_writers_lock_key());
    select coalesce(max(e.id), 0) into v_bound from public.learning_events e;
    raise exception 'release the writers lock' using errcode = 'EKH01';
  exception
    when sqlstate 'EKH01' then
      null;
    when lock_not_available then
      raise exception 'learning_events writers did not finish within 2 s; try again'
        using errcode = '55P03';
  end;

  -- READ: at most p_max_events ids past the watermark (an index range on the primary key).
  select pg_catalog.count(*), max(b.id) into v_read, v_last
  from (select e.id from public.learning_events e
         where e.id > v_from and e.id <= v_bound
         order by e.id
         limit p_max_events) b;
  -- All of (v_from, v_bound] read: the watermark may jump to the bound (ids in between that no
  -- row has are rolled back or deleted, never coming back). Otherwise stop after the last read.
  v_to := case when v_read < p_max_events then greatest(v_bound, v_from) else v_last end;

  -- APPLY: one statement, so every CTE sees the same snapshot.
  with batch as (
    select e.candidate_id, e.user_id, e.ts
    from public.learning_events e
    where e.id > v_from and e.id <= v_to
  ),
  consumed as (
    delete from ops.learning_reward_log r
    where r.event_id <= v_to
    returning r.candidate_id, r.user_id, r.reward_delta, r.count_delta, r.positive_delta
  ),
  impressions as (
    select b.candidate_id, pg_catalog.count(*) as n, max(b.ts) as last_seen
    from batch b
    where b.candidate_id is not null
    group by b.candidate_id
  ),
  rewards as (
    select c.candidate_id, sum(c.count_delta) as n, sum(c.reward_delta) as total,
           sum(c.positive_delta) as positive
    from consumed c
    where c.candidate_id is not null
    group by c.candidate_id
  ),
  deltas as (
    select coalesce(i.candidate_id, r.candidate_id) as candidate_id,
           coalesce(i.n, 0) as impressions, coalesce(r.n, 0) as rewards,
           coalesce(r.total, 0) as reward_sum, coalesce(r.positive, 0) as positive,
           i.last_seen
    from impressions i
    full join rewards r on r.candidate_id = i.candidate_id
  ),
  -- Update and insert as two CTEs rather than ON CONFLICT: an update adds a possibly negative
  -- popularity delta (a corrected reward) to the value decayed to now and clamps at 0, which
  -- the proposed row of an upsert cannot carry. Both see the table as it was before this
  -- statement, so each candidate goes through exactly one of them.
  updated as (
    update public.candidate_features f
       set impressions = f.impressions + d.impressions,
           rewards = f.rewards + d.rewards,
           reward_sum = f.reward_sum + d.reward_sum,
           popularity = greatest(n.popularity + d.positive, 0),
           last_seen_at = greatest(f.last_seen_at, d.last_seen),
           updated_at = pg_catalog.now()
      from deltas d
      join ops.candidate_features_now n on n.candidate_id = d.candidate_id
     where f.candidate_id = d.candidate_id
    returning 1
  ),
  inserted as (
    insert into public.candidate_features (candidate_id, impressions, rewards, reward_sum,
                                           popularity, last_seen_at, updated_at)
    select d.candidate_id, d.impressions, d.rewards, d.reward_sum, greatest(d.positive, 0),
           d.last_seen, pg_catalog.now()
    from deltas d
    where not exists (select 1 from public.candidate_features f
                       where f.candidate_id = d.candidate_id)
    returning 1
  ),
  touched as (
    select b.user_id from batch b where b.user_id is not null
    union
    select c.user_id from consumed c where c.user_id is not null
  ),
  -- Affinity per interest: the declared affinity (0 when only signals exist) moved by
  -- 0.25·tanh(sum of the last 30 days' signal weights): a few clicks add most of the 0.25, a
  -- flood of them cannot add more, and negative signals take off as much; clamped to [0, 1].
  users_written as (
    insert into public.user_features as uf (user_id, affinities, recent_signals, updated_at)
    select t.user_id, coalesce(a.affinities, '{}'::jsonb), coalesce(rs.recent, '[]'::jsonb),
           pg_catalog.now()
    from touched t
    left join lateral (
      select pg_catalog.jsonb_object_agg(
               x.interest_id::text,
               least(1.0, greatest(0.0, x.declared + 0.25 * pg_catalog.tanh(x.signal_sum))))
               as affinities
      from (
        select coalesce(ui.interest_id, sg.interest_id) as interest_id,
               coalesce(ui.affinity, 0)::double precision as declared,
               coalesce(sg.total, 0)::double precision as signal_sum
        from (select i.interest_id, i.affinity from public.user_interests i
               where i.user_id = t.user_id) ui
        full join (select s.interest_id, sum(s.weight) as total
                     from public.intent_signals s
                    where s.user_id = t.user_id
                      and s.created_at > pg_catalog.now() - interval '30 days'
                    group by s.interest_id) sg on sg.interest_id = ui.interest_id
      ) x
    ) a on true
    left join lateral (
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'interest_id', s.interest_id, 'signal', s.signal, 'weight', s.weight,
               'at', s.created_at) order by s.created_at desc, s.id desc) as recent
      from (select s.id, s.interest_id, s.signal, s.weight, s.created_at
              from public.intent_signals s
             where s.user_id = t.user_id
             order by s.created_at desc, s.id desc
             limit 20) s
    ) rs on true
    on conflict (user_id) do update
      set affinities = excluded.affinities,
          recent_signals = excluded.recent_signals,
          updated_at = excluded.updated_at
    returning 1
  )
  select (select pg_catalog.count(*) from updated) + (select pg_catalog.count(*) from inserted),
         (select pg_catalog.count(*) from users_written),
         (select pg_catalog.count(*) from consumed)
    into v_candidates, v_users, v_rewards;

  update ops.learning_hydrate_state s
     set event_watermark = v_to,
         last_run_at = pg_catalog.now(),
         last_events_read = v_read,
         last_rewards_applied = v_rewards,
         last_candidates_updated = v_candidates,
         last_users_updated = v_users
   where s.singleton;

  return query select v_read, v_candidates, v_users, v_to;
end
$$;
revoke all on function ops.hydrate_features(int) from public;
grant execute on function ops.hydrate_features(int) to service_role;


-- =============================================================================================
-- public.ranker_candidate_scores — what the policy-ranker ranks
-- =============================================================================================

-- Candidates for the ranker: the marketplace's active ones by popularity (the default pool, and
-- the fallback slate's "global" list; marketplace_candidates has only a per-category index).
create index learning_marketplace_candidates_popular_idx
  on public.marketplace_candidates (popularity desc, id) where active;
-- The fallback slate's "recent" list: the newest active marketplace candidates.
create index learning_marketplace_candidates_recent_idx
  on public.marketplace_candidates (created_at desc, id) where active;

-- Scores candidates for p_user_id, best first (the greedy order: score desc, then candidate_id
-- in byte order, as the TypeScript slate breaks ties). The pool is p_candidate_ids when given
-- (duplicates dropped, the first kept; up to 500), else the user's marketplace suggestions
-- (marketplace_suggestions_for_user, so the marketplace.suggest flag applies) followed by the
-- most popular active marketplace candidates, p_pool in all. With no user, only the latter and
-- no affinity. Each row:
--   score        0.5·reward_rate + 0.2·popularity + 0.1·recency + 0.2·affinity
--   reward_rate  candidate_features.reward_rate; the prior mean (0.5) for a candidate without
--                features
--   popularity   p/(1+p) of the decayed popularity now (0..1; 0 without features)
--   recency      2^(−days since last_seen_at) (1 = seen just now; 0 without features)
--   affinity     for a marketplace candidate, the user's highest affinity among the interests
--                its category serves (user_features); 0 otherwise
--   source       'given' | 'suggestion' | 'popular'
-- The learned reward rate carries half the weight; the other signals break its ties and carry
-- the cold start. Errors: 22023 naming the argument (p_candidate_ids[i] for a null or empty id).
-- Invoker rights, service_role only: the feature store is not readable by users.
create function public.ranker_candidate_scores(
  p_user_id uuid default null,
  p_candidate_ids text[] default null,
  p_pool int default 200
)
returns table (
  candidate_id text,
  score double precision,
  reward_rate double precision,
  popularity double precision,
  recency double precision,
  affinity double precision,
  source text
)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_ids text[];
  v_sources text[];
  v_bad int;
  v_affinities jsonb;
  v_prior constant double precision := public.learning_reward_rate(0, 0);
begin
  -- GUARD: arguments
  if p_pool is null or p_pool not between 1 and 500 then
    raise exception 'p_pool must be between 1 and 500' using errcode = '22023';
  end if;
  if p_candidate_ids is not null then
    if pg_catalog.cardinality(p_candidate_ids) > 500 then
      raise exception 'p_candidate_ids must have at most 500 ids' using errcode = '22023';
    end if;
    select min(g.i) into v_bad
    from pg_catalog.unnest(p_candidate_ids) with ordinality as g(id, i)
    where g.id is null or pg_catalog.length(pg_catalog.btrim(g.id)) not between 1 and 200;
    if v_bad is not null then
      raise exception 'p_candidate_ids[%]: must be a non-empty string of at most 200 characters',
        v_bad - 1 using errcode = '22023';
    end if;
  end if;

  -- POOL: ids and where each came from, in pool order.
  if p_candidate_ids is not null then
    select pg_catalog.array_agg(d.id order by d.i), pg_catalog.array_agg('given'::text order by d.i)
      into v_ids, v_sources
    from (select distinct on (g.id) g.id, g.i
            from pg_catalog.unnest(p_candidate_ids) with ordinality as g(id, i)
           order by g.id, g.i) d;
  else
    -- Suggestions first, then popular ones; a candidate in both keeps its suggestion place.
    select pg_catalog.array_agg(d.id order by d.rank), pg_catalog.array_agg(d.src order by d.rank)
      into v_ids, v_sources
    from (
      select u.id, u.src, u.rank
      from (
        select distinct on (c.id) c.id, c.src, c.rank
        from (
          select s.candidate_id::text as id, 'suggestion'::text as src, s.n as rank
          from public.marketplace_suggestions_for_user(p_user_id, least(p_pool, 100))
                 with ordinality as s(candidate_id, title, category_id, interest_id, score,
                                      reason, n)
          where p_user_id is not null
          union all
          select m.id::text, 'popular'::text,
                 1000 + pg_catalog.row_number() over (order by m.popularity desc, m.id)
          from (select c.id, c.popularity from public.marketplace_candidates c
                 where c.active
                 order by c.popularity desc, c.id
                 limit p_pool) m
        ) c
        order by c.id, c.rank
      ) u
      order by u.rank
      limit p_pool
    ) d;
  end if;

  -- The user's affinities once (not per candidate); the prior once.
  select uf.affinities into v_affinities from public.user_features uf where uf.user_id = p_user_id;

  return query
  with pool as (
    select p.id, p.src,
           case when p.id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                then p.id::uuid end as marketplace_id
    from rows from (pg_catalog.unnest(v_ids), pg_catalog.unnest(v_sources)) as p(id, src)
  ),
  affinity as (
    select p.id, max((v_affinities ->> m.interest_id::text)::double precision) as affinity
    from pool p
    join public.marketplace_candidates c on c.id = p.marketplace_id
    join public.marketplace_interest_map m on m.category_id = c.category_id
    where v_affinities is not null
    group by p.id
  ),
  parts as (
    select p.id, p.src,
           coalesce(f.reward_rate, v_prior) as rr,
           coalesce(f.popularity / (1 + f.popularity), 0) as pop,
           coalesce(f.recency, 0) as rec,
           coalesce(a.affinity, 0) as aff
    from pool p
    left join ops.candidate_features_now f on f.candidate_id = p.id
    left join affinity a on a.id = p.id
  )
  select x.id, 0.5 * x.rr + 0.2 * x.pop + 0.1 * x.rec + 0.2 * x.aff, x.rr, x.pop, x.rec, x.aff,
         x.src
  from parts x
  order by 2 desc, x.id collate "C";
end
$$;
revoke all on function public.ranker_candidate_scores(uuid, text[], int) from public;
grant execute on function public.ranker_candidate_scores(uuid, text[], int) to service_role;


-- =============================================================================================
-- public.ranker_fallback_slate — the deterministic safe-mode slate
-- =============================================================================================

-- The slate served in safe mode (ε = 0, logged with p_exp = 0): the same for every user and
-- every call until the data changes, built without randomness or personal data from three
-- lists, interleaved popular, recent, global, popular, recent, … with each candidate once (at
-- its first place):
--   popular  candidate_features by popularity now (engagement; any candidate the ranker logged)
--   recent   the newest active marketplace candidates
--   global   the most popular active marketplace candidates (the marketplace's own score)
-- Returns position (0-based), candidate_id, source, and score (ranker_candidate_scores without
-- a user: what the slot is logged with). Errors: p_limit outside 1–100 → 22023.
-- Invoker rights, service_role only.
create function public.ranker_fallback_slate(p_limit int default 12)
returns table ("position" int, candidate_id text, source text, score double precision)
language plpgsql
stable
set search_path = ''
as $$
#variable_conflict use_column
declare
  v_ids text[];
  v_sources text[];
begin
  -- GUARD: arguments
  if p_limit is null or p_limit not between 1 and 100 then
    raise exception 'p_limit must be between 1 and 100' using errcode = '22023';
  end if;

  -- Slots 1, 4, 7… for popular, 2, 5, 8… for recent, 3, 6, 9… for global; a candidate on
  -- several lists keeps its first slot.
  select pg_catalog.array_agg(s.id order by s.slot), pg_catalog.array_agg(s.src order by s.slot)
    into v_ids, v_sources
  from (
    select u.id, u.src, u.slot
    from (
      select distinct on (l.id) l.id, l.src, l.slot
      from (
        select f.candidate_id as id, 'popular'::text as src,
               3 * pg_catalog.row_number() over (order by f.k desc, f.candidate_id) - 2 as slot
        from (select f.candidate_id,
                     public.learning_popularity_key(f.popularity, f.updated_at) as k
                from public.candidate_features f
               where f.popularity > 0
               order by public.learning_popularity_key(f.popularity, f.updated_at) desc,
                        f.candidate_id
               limit p_limit) f
        union all
        select r.id::text, 'recent'::text,
               3 * pg_catalog.row_number() over (order by r.created_at desc, r.id) - 1
        from (select c.id, c.created_at from public.marketplace_candidates c
               where c.active order by c.created_at desc, c.id limit p_limit) r
        union all
        select g.id::text, 'global'::text,
               3 * pg_catalog.row_number() over (order by g.popularity desc, g.id)
        from (select c.id, c.popularity from public.marketplace_candidates c
               where c.active order by c.popularity desc, c.id limit p_limit) g
      ) l
      order by l.id, l.slot
    ) u
    order by u.slot
    limit p_limit
  ) s;

  return query
  select (p.n - 1)::int, p.id, p.src, sc.score
  from rows from (pg_catalog.unnest(v_ids), pg_catalog.unnest(v_sources))
         with ordinality as p(id, src, n)
  join public.ranker_candidate_scores(p_candidate_ids => v_ids,
                                      p_pool => greatest(pg_catalog.cardinality(v_ids), 1)) sc
    on sc.candidate_id = p.id
  order by p.n;
end
$$;
revoke all on function public.ranker_fallback_slate(int) from public;
grant execute on function public.ranker_fallback_slate(int) to service_role;
