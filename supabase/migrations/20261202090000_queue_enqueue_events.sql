-- public.enqueue_events: enqueue_event for many jobs of one topic in one INSERT. A producer with
-- a thousand jobs pays one round trip and one statement instead of a thousand.


-- Each new job's id is drawn before the insert (nextval on the identity's sequence, inserted with
-- OVERRIDING SYSTEM VALUE) so the function knows which input position every inserted row came
-- from: RETURNING promises no order, and rows without a dedupe key have nothing else to tell
-- them apart. Identity inserts need no sequence privilege; an explicit nextval does, and
-- enqueue_events runs with its caller's rights.
grant usage on sequence public.events_queue_id_seq to service_role;

-- Refuses a per-item array (p_name, holding p_noun) that is not one entry per payload: one
-- dimension, from 1, p_items entries (cardinality counts every element of any shape, so a 2-D
-- array of the right total is refused by the bounds check). Null (not given) passes.
create function ops.queue_check_positional(
  p_name text,
  p_noun text,
  p_items integer,
  p_entries anyarray
)
returns void
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_entries is not null and pg_catalog.array_ndims(p_entries) > 1 then
    raise exception '% must be a one-dimensional array (one entry per payload)', p_name
      using errcode = '22023';
  end if;
  if p_entries is not null and (pg_catalog.cardinality(p_entries) <> p_items
      or (p_items > 0 and (pg_catalog.array_ndims(p_entries) <> 1
                           or pg_catalog.array_lower(p_entries, 1) <> 1))) then
    raise exception '% must have one entry per payload (% payloads, % %)',
      p_name, p_items, pg_catalog.cardinality(p_entries), p_noun using errcode = '22023';
  end if;
end
$$;
revoke all on function ops.queue_check_positional(text, text, integer, anyarray) from public;
grant execute on function ops.queue_check_positional(text, text, integer, anyarray)
  to service_role;

-- Adds one job per element of p_payloads (a JSON array) to p_topic and returns their ids in the
-- input order. p_dedupe_keys and p_run_at, when given, hold one entry per payload (null entries:
-- no key, run now). Dedupe is enqueue_event's, item by item: a key that an active (queued or
-- processing) job of the topic holds returns that job's id and adds nothing, and a key repeated
-- inside the batch is added once, with the first occurrence's payload, its id returned at every
-- position that names the key (as the same calls to enqueue_event in order would). p_max_attempts
-- and p_priority apply to the whole batch. At most 100,000 payloads a call.
create function public.enqueue_events(
  p_topic text,
  p_payloads jsonb,
  p_dedupe_keys text[] default null,
  p_run_at timestamptz[] default null,
  p_max_attempts integer default 5,
  p_priority integer default 0
)
returns bigint[]
language plpgsql
volatile
set search_path = ''
as $$
declare
  -- Large enough for any producer's burst, small enough that one call's arrays stay a few MB.
  max_items constant integer := 100000;
  items integer;
  bad integer;
  ids bigint[];
begin
  -- GUARD: arguments, with messages that name them (22023 -> 400), as enqueue_event's.
  if p_topic is null or pg_catalog.length(p_topic) not between 1 and 200 then
    raise exception 'p_topic must be 1 to 200 characters' using errcode = '22023';
  end if;
  if p_payloads is null or pg_catalog.jsonb_typeof(p_payloads) <> 'array' then
    raise exception 'p_payloads must be a JSON array' using errcode = '22023';
  end if;
  items := pg_catalog.jsonb_array_length(p_payloads);
  if items > max_items then
    raise exception 'p_payloads must have at most % elements', max_items using errcode = '22023';
  end if;
  if p_max_attempts is null or p_max_attempts not between 1 and 100 then
    raise exception 'p_max_attempts must be between 1 and 100' using errcode = '22023';
  end if;
  perform ops.queue_check_positional('p_dedupe_keys', 'keys', items, p_dedupe_keys);
  perform ops.queue_check_positional('p_run_at', 'run_at', items, p_run_at);
  select k.ord into bad
    from pg_catalog.unnest(p_dedupe_keys) with ordinality as k(dedupe_key, ord)
   where pg_catalog.length(k.dedupe_key) not between 1 and 512
   order by k.ord
   limit 1;
  if bad is not null then
    raise exception 'p_dedupe_keys[%] must be 1 to 512 characters', bad using errcode = '22023';
  end if;
  if items = 0 then
    return '{}'::bigint[];
  end if;

  -- Each pass resolves every position it can; as in enqueue_event, the loop covers one race: the
  -- active job holding a key finishes, or another transaction adds one and commits, between the
  -- conflict and the lookup (this statement's snapshot cannot see such a row). The next pass has
  -- a fresh snapshot and resolves only the positions still open (ids null until the first pass
  -- ends). Positions with one key always resolve together, so a pass never splits a key.
  -- Every per-position read is a zip (ROWS FROM) or a hash, never an array subscript or a join
  -- on a CTE, so a batch costs O(n log n), not O(n^2).
  loop
    with item as materialized (
      select e.ord::integer as ord, e.payload, e.prev_id, e.dedupe_key,
             coalesce(e.run_at, pg_catalog.now()) as run_at,
             -- A new id for each open position that enqueues: unkeyed ones, and the first
             -- position of each key (which is why a repeated key keeps its first payload).
             case when e.prev_id is null
                   and (e.dedupe_key is null
                        or e.ord = pg_catalog.min(e.ord) over (partition by e.dedupe_key))
                  then pg_catalog.nextval('public.events_queue_id_seq'::regclass) end as new_id
        from rows from (pg_catalog.jsonb_array_elements(p_payloads), pg_catalog.unnest(ids),
                        pg_catalog.unnest(p_dedupe_keys), pg_catalog.unnest(p_run_at))
             with ordinality as e(payload, prev_id, dedupe_key, run_at, ord)
    ),
    holder as (
      -- The id that a position's key (or, unkeyed, the position itself) was enqueued under.
      select i.ord, i.prev_id, i.dedupe_key,
             case when i.dedupe_key is null then i.new_id
                  else pg_catalog.max(i.new_id) over (partition by i.dedupe_key) end as new_id
        from item i
    ),
    inserted as (
      insert into public.events_queue
        (id, topic, payload, run_at, dedupe_key, max_attempts, priority)
      overriding system value
      select i.new_id, p_topic, i.payload, i.run_at, i.dedupe_key, p_max_attempts,
             coalesce(p_priority, 0)
        from item i
       where i.new_id is not null
       order by i.ord
      on conflict (topic, dedupe_key)
        where dedupe_key is not null and status in ('queued', 'processing')
        do nothing
      returning id
    )
    -- A position's job: resolved by an earlier pass; enqueued under its key now; or else (its key
    -- was taken) the active job holding the key, found through the dedupe index.
    select pg_catalog.array_agg(
             case when h.prev_id is not null then h.prev_id
                  when h.new_id in (select n.id from inserted n) then h.new_id
                  else (select q.id from public.events_queue q
                         where h.dedupe_key is not null
                           and q.topic = p_topic
                           and q.dedupe_key = h.dedupe_key
                           and q.status in ('queued', 'processing')) end
             order by h.ord) into ids
      from holder h;
    exit when pg_catalog.array_position(ids, null) is null;
  end loop;
  return ids;
end
$$;
revoke all on function public.enqueue_events(text, jsonb, text[], timestamptz[], integer, integer)
  from public, anon, authenticated;
grant execute on function public.enqueue_events(text, jsonb, text[], timestamptz[], integer, integer)
  to service_role;
