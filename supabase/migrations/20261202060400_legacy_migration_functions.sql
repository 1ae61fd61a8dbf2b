-- Legacy migration, part 5: the three statements the legacy-migration function runs as the
-- caller (role authenticated with their claims, so RLS applies exactly as through PostgREST):
-- read their legacy rows, write their activities and assets, delete the legacy rows it moved.
-- The write and the delete run in one transaction (the function's); a dry run rolls it back.
-- All three are SECURITY INVOKER: they can do nothing the caller could not do row by row.
-- docs/legacy-migration.md.


-- The caller's legacy portfolios and items as one document, {"portfolios": [...], "items":
-- [...]}, in a stable order (jsonb, so the client never depends on array type OIDs). The
-- explicit user_id filter is redundant with RLS and lets the user_id indexes serve it.
create function public.legacy_portfolio_rows()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'portfolios', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', p.id, 'user_id', p.user_id, 'title', p.title,
               'description', p.description, 'hero_image_path', p.hero_image_path,
               'created_at', p.created_at)
             order by p.created_at, p.id)
        from public.casfolio_portfolios p
       where p.user_id = (select auth.uid())), '[]'::jsonb),
    'items', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', i.id, 'portfolio_id', i.portfolio_id, 'user_id', i.user_id,
               'title', i.title, 'description', i.description, 'image_path', i.image_path,
               'position', i.position, 'created_at', i.created_at)
             order by i.portfolio_id, i.position, i.created_at, i.id)
        from public.casfolio_items i
       where i.user_id = (select auth.uid())), '[]'::jsonb))
$$;
revoke all on function public.legacy_portfolio_rows() from public;
grant execute on function public.legacy_portfolio_rows() to authenticated;

-- Inserts the caller's new activities and their assets, each given as a JSON array of objects:
-- activities {id, kind, title, body, occurred_at, legacy_id}, assets {activity_id, bucket, path,
-- kind, legacy_path}. The owner is always auth.uid(), never taken from the payload. Answers
-- {"activities": n, "assets": m}.
create function public.insert_migrated_activities(p_activities jsonb, p_assets jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  owner_id constant uuid := auth.uid();
  activity_count int;
  asset_count int;
begin
  -- GUARD: a signed-in caller, and arrays of rows
  if owner_id is null then
    raise exception 'insert_migrated_activities needs a signed-in user' using errcode = '42501';
  end if;
  if pg_catalog.jsonb_typeof(p_activities) is distinct from 'array' then
    raise exception 'p_activities must be a JSON array' using errcode = '22023';
  end if;
  if pg_catalog.jsonb_typeof(p_assets) is distinct from 'array' then
    raise exception 'p_assets must be a JSON array' using errcode = '22023';
  end if;

  insert into public.activities (id, user_id, kind, title, body, occurred_at, legacy_id)
  select a.id, owner_id, a.kind, a.title, a.body, a.occurred_at, a.legacy_id
    from pg_catalog.jsonb_to_recordset(p_activities)
      as a (id uuid, kind text, title text, body text, occurred_at timestamptz, legacy_id uuid);
  get diagnostics activity_count = row_count;

  insert into public.activity_assets (activity_id, user_id, bucket, path, kind, legacy_path)
  select s.activity_id, owner_id, s.bucket, s.path, s.kind, s.legacy_path
    from pg_catalog.jsonb_to_recordset(p_assets)
      as s (activity_id uuid, bucket text, path text, kind text, legacy_path text);
  get diagnostics asset_count = row_count;

  return pg_catalog.jsonb_build_object('activities', activity_count, 'assets', asset_count);
end
$$;
revoke all on function public.insert_migrated_activities(jsonb, jsonb) from public;
grant execute on function public.insert_migrated_activities(jsonb, jsonb) to authenticated;

-- Deletes exactly the caller's legacy rows a migration read (items first, then portfolios) and
-- answers {"portfolios": n, "items": m}. If any of them is gone, or a listed portfolio still has
-- an item the migration did not read (deleting the portfolio would cascade to it), the legacy
-- data changed under the migration: it raises 40001 so the whole transaction rolls back and a
-- rerun reads the data afresh.
create function public.purge_legacy_portfolio_rows(p_portfolio_ids uuid[], p_item_ids uuid[])
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  portfolio_count int;
  item_count int;
begin
  if p_portfolio_ids is null or p_item_ids is null then
    raise exception 'p_portfolio_ids and p_item_ids are required' using errcode = '22023';
  end if;

  delete from public.casfolio_items i
   where i.id = any (p_item_ids) and i.user_id = (select auth.uid());
  get diagnostics item_count = row_count;
  if item_count <> pg_catalog.cardinality(p_item_ids) then
    raise exception 'legacy items changed during the migration; run it again'
      using errcode = '40001';
  end if;
  if exists (select 1 from public.casfolio_items i where i.portfolio_id = any (p_portfolio_ids)) then
    raise exception 'legacy items were added during the migration; run it again'
      using errcode = '40001';
  end if;

  delete from public.casfolio_portfolios p
   where p.id = any (p_portfolio_ids) and p.user_id = (select auth.uid());
  get diagnostics portfolio_count = row_count;
  if portfolio_count <> pg_catalog.cardinality(p_portfolio_ids) then
    raise exception 'legacy portfolios changed during the migration; run it again'
      using errcode = '40001';
  end if;

  return pg_catalog.jsonb_build_object('portfolios', portfolio_count, 'items', item_count);
end
$$;
revoke all on function public.purge_legacy_portfolio_rows(uuid[], uuid[]) from public;
grant execute on function public.purge_legacy_portfolio_rows(uuid[], uuid[]) to authenticated;
