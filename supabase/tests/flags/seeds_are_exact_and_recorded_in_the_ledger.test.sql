-- The five contract flags ship with the flags migration, exactly, and their seeding is on the
-- ledger. (Later migrations add flags of their own, e.g. ops.auto_safe_mode; they are not
-- contract flags and are tested with their area.)
begin;
select plan(6);

select results_eq(
  $$ select key, value from public.feature_flags
     where updated_by = 'migration:20261122020000' order by key $$,
  $$ values ('crush_mode.enabled', '{"enabled": false}'::jsonb),
            ('global.safe_mode', '{"enabled": false}'::jsonb),
            ('learning.enabled', '{"enabled": true}'::jsonb),
            ('marketplace.suggest', '{"enabled": true}'::jsonb),
            ('ranker.policy', '{"version": "epsilon_greedy_v1", "epsilon": 0.08}'::jsonb) $$,
  'the flags migration seeded exactly the five contract flags with their seed values'
);

select ok(
  (select bool_and(description <> '' and updated_at is not null
                   and updated_by = 'migration:20261122020000')
   from public.feature_flags
   where key in ('crush_mode.enabled', 'global.safe_mode', 'learning.enabled',
                 'marketplace.suggest', 'ranker.policy')),
  'each contract flag has a description and was stamped by the flags migration'
);

select results_eq(
  $$ select target, before, after from public.ai_action_ledger
     where action = 'feature_flags.insert' and actor = 'migration:20261122020000'
     order by target $$,
  $$ select key, null::jsonb, value from public.feature_flags
     where updated_by = 'migration:20261122020000' order by key $$,
  'seeding wrote one insert row per flag, with after = the seeded value'
);

select is(
  (select count(distinct reason) || ':' || min(reason) from public.ai_action_ledger
   where actor = 'migration:20261122020000'),
  '1:seed contract flags (issue 4)',
  'seed rows carry the migration''s reason'
);

select is(
  (select count(distinct context ->> 'txid') from public.ai_action_ledger
   where actor = 'migration:20261122020000'),
  1::bigint,
  'the seed rows share one transaction id in their context'
);

select is(
  current_setting('app.actor', true), null,
  'the migration does not leave app.actor set for later statements'
);

select * from finish();
rollback;
