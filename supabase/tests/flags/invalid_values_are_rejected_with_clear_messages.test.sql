-- The database validates flag values (the rollout fields on every key, the shape of known
-- keys); an invalid write fails with a stable message naming the key and the field (SQLSTATE
-- 22023, a 400 through _shared/errors.ts) and changes nothing.
begin;
select plan(26);

select throws_ok(
  $$ update public.feature_flags set value = '{"enabled": "yes"}' where key = 'global.safe_mode' $$,
  '22023', 'global.safe_mode: "enabled" must be a boolean',
  'enabled must be a boolean'
);
select throws_ok(
  $$ update public.feature_flags set value = '{}' where key = 'learning.enabled' $$,
  '22023', 'learning.enabled: "enabled" must be a boolean',
  'a boolean flag needs "enabled"'
);
select throws_ok(
  $$ update public.feature_flags set value = '{"enabled": true, "percentage": 101}'
     where key = 'marketplace.suggest' $$,
  '22023', 'marketplace.suggest: "percentage" must be a number from 0 to 100',
  'percentage above 100 is refused'
);
select throws_ok(
  $$ update public.feature_flags set value = '{"enabled": true, "percentage": -1}'
     where key = 'global.safe_mode' $$,
  '22023', 'global.safe_mode: "percentage" must be a number from 0 to 100',
  'a negative percentage is refused'
);
select throws_ok(
  $$ update public.feature_flags set value = '{"enabled": true, "percentage": "95"}'
     where key = 'global.safe_mode' $$,
  '22023', 'global.safe_mode: "percentage" must be a number from 0 to 100',
  'a percentage given as a string is refused'
);
select throws_ok(
  $$ update public.feature_flags set value = '{"enabled": true, "percent": 5}'
     where key = 'marketplace.suggest' $$,
  '22023', 'marketplace.suggest: unknown property "percent" (allowed: enabled, percentage, group)',
  'a misspelt property is refused rather than silently meaning 100 %'
);
select throws_ok(
  $$ update public.feature_flags set value = '{"enabled": true, "percentage": 5, "group": ""}'
     where key = 'crush_mode.enabled' $$,
  '22023', 'crush_mode.enabled: "group" must be a non-empty string',
  'group must be a non-empty string'
);
select throws_ok(
  $$ update public.feature_flags set value = '{"version": "epsilon_greedy_v1", "epsilon": 1.5}'
     where key = 'ranker.policy' $$,
  '22023', 'ranker.policy: "epsilon" must be a number from 0 to 1',
  'epsilon above 1 is refused'
);
select throws_ok(
  $$ update public.feature_flags set value = '{"version": "epsilon_greedy_v1"}'
     where key = 'ranker.policy' $$,
  '22023', 'ranker.policy: "epsilon" must be a number from 0 to 1',
  'ranker.policy needs epsilon'
);
select throws_ok(
  $$ update public.feature_flags set value = '{"version": "", "epsilon": 0.1}'
     where key = 'ranker.policy' $$,
  '22023', 'ranker.policy: "version" must be a non-empty string',
  'ranker.policy needs a version'
);
select throws_ok(
  $$ update public.feature_flags set value = '[true]' where key = 'global.safe_mode' $$,
  '22023', 'global.safe_mode: value must be a JSON object',
  'a value must be a JSON object'
);
select throws_ok(
  $$ insert into public.feature_flags (key, value) values ('some.new_flag', '"on"') $$,
  '22023', 'some.new_flag: value must be a JSON object',
  'unknown keys still need an object'
);

-- The rollout fields are checked on ANY key, not only the contract ones: a new canary with a
-- typo must not become a 100 % rollout (the evaluators read these fields on every key).
select throws_ok(
  $$ insert into public.feature_flags (key, value)
     values ('new.canary', '{"enabled": true, "percentage": "5"}') $$,
  '22023', 'new.canary: "percentage" must be a number from 0 to 100',
  'a new key: a percentage given as a string is refused'
);
select throws_ok(
  $$ insert into public.feature_flags (key, value)
     values ('new.canary', '{"enabled": true, "percentage": 500}') $$,
  '22023', 'new.canary: "percentage" must be a number from 0 to 100',
  'a new key: a percentage above 100 is refused'
);
select throws_ok(
  $$ insert into public.feature_flags (key, value)
     values ('new.canary', '{"enabled": true, "percentage": -0.5}') $$,
  '22023', 'new.canary: "percentage" must be a number from 0 to 100',
  'a new key: a negative percentage is refused'
);
select throws_ok(
  $$ insert into public.feature_flags (key, value) values ('new.canary', '{"enabled": "true"}') $$,
  '22023', 'new.canary: "enabled" must be a boolean',
  'a new key: enabled given as a string is refused'
);
select throws_ok(
  $$ insert into public.feature_flags (key, value)
     values ('new.canary', '{"enabled": true, "percentage": 5, "group": " "}') $$,
  '22023', 'new.canary: "group" must be a non-empty string',
  'a new key: a blank group is refused'
);
select throws_ok(
  $$ insert into public.feature_flags (key, value)
     values ('new.canary', '{"enabled": true, "group": ["a"]}') $$,
  '22023', 'new.canary: "group" must be a non-empty string',
  'a new key: a group that is not a string is refused'
);
select throws_ok(
  $$ update public.feature_flags
     set value = '{"version": "epsilon_greedy_v1", "epsilon": 0.1, "enabled": 1}'
     where key = 'ranker.policy' $$,
  '22023', 'ranker.policy: "enabled" must be a boolean',
  'the rollout fields are checked on ranker.policy too'
);
select is(
  (select count(*) from public.feature_flags where key = 'new.canary'), 0::bigint,
  'none of the refused new keys was stored'
);
select lives_ok(
  $$ insert into public.feature_flags (key, value) values
       ('new.canary', '{"enabled": true, "percentage": 5, "group": "g", "owner": "team-x"}'),
       ('new.percentage_only', '{"percentage": 0}'),
       ('new.free_form', '{"limit": "5", "enabled": false}') $$,
  'a new key with valid rollout fields and free other properties is accepted'
);

select is(
  (select value from public.feature_flags where key = 'global.safe_mode'),
  '{"enabled": false}'::jsonb,
  'the refused updates changed nothing'
);
select is(
  (select count(*) from public.ai_action_ledger where action = 'feature_flags.update'),
  0::bigint,
  'and wrote no ledger rows'
);

select lives_ok(
  $$ insert into public.feature_flags (key, value) values ('some.new_flag', '{"anything": [1, 2]}') $$,
  'unknown keys accept any object'
);
select lives_ok(
  $$ update public.feature_flags set value = '{"enabled": true, "percentage": 95}'
     where key = 'global.safe_mode';
     update public.feature_flags set value = '{"version": "epsilon_greedy_v2", "epsilon": 0}'
     where key = 'ranker.policy';
     update public.feature_flags set value = '{"enabled": true, "percentage": 12.5, "group": "g"}'
     where key = 'marketplace.suggest' $$,
  'valid values for known keys are accepted (canary percentage, epsilon 0, group)'
);
select throws_ok(
  $$ insert into public.feature_flags (key, value) values ('bad key', '{}') $$,
  '23514', NULL,
  'keys are restricted to letters, digits and _ . : -'
);

select * from finish();
rollback;
