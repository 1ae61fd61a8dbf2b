-- public.flag_bucket / public.flag_enabled against the committed vectors file that the Deno
-- tests (supabase/functions/_shared/flags.test.ts) check too, plus the rollout guarantees:
-- raising a percentage never removes a user, and the safe-mode canary steps 95 -> 75 -> off.
--
-- The vectors are read with psql's client-side \copy, relative to the working directory, which
-- is the repository root under `deno task test` (pg_prove runs there). No superuser file access
-- and no second copy of the vectors.
begin;
select plan(14);

create temp table vectors (
  key text not null,
  value jsonb not null,
  user_id uuid,
  bucket int,
  enabled boolean not null
);
\copy vectors from 'supabase/tests/flags/bucket_vectors.tsv' with (format text, header true)

select cmp_ok((select count(*) from vectors), '>=', 100::bigint,
              'the vectors file was loaded');

select is(
  array(select format('%s %s: got %s, want %s', v.key, v.user_id, public.flag_bucket(
                        coalesce(nullif(v.value ->> 'group', ''), v.key), v.user_id), v.bucket)
        from vectors v
        where v.user_id is not null
          and public.flag_bucket(coalesce(nullif(v.value ->> 'group', ''), v.key), v.user_id)
              is distinct from v.bucket),
  '{}'::text[],
  'flag_bucket matches every vector''s bucket'
);

-- Each vector's value is stored under its key, then flag_enabled is asked (as a signed-in
-- user would, through RLS). Some vectors hold values validate_feature_flag refuses (a string
-- percentage, 500, "enabled": "false", …): they pin what the evaluators do if validation is
-- ever bypassed, so the validation trigger is off for this loop (the transaction rolls back).
create temp table outcomes (n int, key text, user_id uuid, refused boolean, want boolean,
                            got boolean);
grant select, insert on outcomes to authenticated;
select tests.create_supabase_user('vector_reader');
alter table public.feature_flags disable trigger feature_flags_validate;
do $$
declare
  v record;
  n int := 0;
  refused boolean;
begin
  for v in select * from vectors loop
    n := n + 1;
    begin
      perform public.validate_feature_flag(v.key, v.value);
      refused := false;
    exception when sqlstate '22023' then
      refused := true;
    end;
    insert into public.feature_flags (key, value) values (v.key, v.value)
    on conflict (key) do update set value = excluded.value;
    perform tests.authenticate_as('vector_reader');
    insert into outcomes values (n, v.key, v.user_id, refused, v.enabled,
                                 public.flag_enabled(v.key, v.user_id));
    perform tests.clear_authentication();
  end loop;
end
$$;
alter table public.feature_flags enable trigger feature_flags_validate;

select is(
  array(select format('#%s %s user %s: got %s, want %s', n, key, user_id, got, want)
        from outcomes where got is distinct from want order by n),
  '{}'::text[],
  'flag_enabled matches every vector'
);
select ok((select count(*) >= 10 from outcomes where refused),
          'the vectors include malformed values (refused by validation)');
select is(
  array(select format('#%s %s user %s: got %s', n, key, user_id, got)
        from outcomes where refused and got is distinct from (key = 'global.safe_mode')
        order by n),
  '{}'::text[],
  'a malformed value evaluates fail-safe: safe mode on, any other flag off (never 100 %)'
);
select ok((select bool_or(got) and bool_or(not got) from outcomes),
          'the vectors cover both outcomes');

-- ---------------------------------------------------------------------------------------------
-- Monotonic rollout: raising the percentage never removes a user who was in
-- ---------------------------------------------------------------------------------------------
create temp table users_sample as
  select gen_random_uuid() as id from generate_series(1, 2000);

select is(
  (select count(*)
   from users_sample u
   cross join generate_series(0, 99) p
   where public.flag_bucket('marketplace.suggest', u.id) <= p
     and not public.flag_bucket('marketplace.suggest', u.id) <= p + 1),
  0::bigint,
  'for 2000 users and every step p -> p+1, nobody in at p is out at p+1'
);
select ok(
  (select min(public.flag_bucket('k', id)) = 1 and max(public.flag_bucket('k', id)) = 100
   from users_sample),
  'buckets span 1..100'
);
select cmp_ok(
  (select abs(count(*) filter (where public.flag_bucket('k', id) <= 25) - 500)
   from users_sample),
  '<', 100::bigint,
  '25 % admits about a quarter of users (2000 sampled)'
);

update public.feature_flags set value = '{"enabled": true, "percentage": 5}'
where key = 'marketplace.suggest';
create temp table in_at_5 as
  select id from users_sample where public.flag_enabled('marketplace.suggest', id);
update public.feature_flags set value = '{"enabled": true, "percentage": 25}'
where key = 'marketplace.suggest';
select is(
  (select count(*) from in_at_5 where not public.flag_enabled('marketplace.suggest', id)),
  0::bigint,
  'every user in at 5 % is still in at 25 % (flag_enabled)'
);

-- ---------------------------------------------------------------------------------------------
-- The safe-mode canary: 95 -> 75 -> off
-- ---------------------------------------------------------------------------------------------
update public.feature_flags set value = '{"enabled": true, "percentage": 95}'
where key = 'global.safe_mode';
create temp table safe_at_95 as
  select id from users_sample where public.flag_enabled('global.safe_mode', id);
update public.feature_flags set value = '{"enabled": true, "percentage": 75}'
where key = 'global.safe_mode';
select is(
  (select count(*) from users_sample
   where public.flag_enabled('global.safe_mode', id)
     and id not in (select id from safe_at_95)),
  0::bigint,
  'lowering safe mode from 95 to 75 only releases users, never adds any'
);
select ok(
  public.flag_enabled('global.safe_mode') = true,
  'during the canary, work for no user stays in safe mode'
);
update public.feature_flags set value = '{"enabled": false}' where key = 'global.safe_mode';
select ok(
  not public.flag_enabled('global.safe_mode')
    and not exists (select 1 from users_sample where public.flag_enabled('global.safe_mode', id)),
  'safe mode off: nobody is in safe mode'
);
select ok(
  not public.flag_enabled('no.such_flag', gen_random_uuid()),
  'an unknown flag is off'
);

select * from finish();
rollback;
