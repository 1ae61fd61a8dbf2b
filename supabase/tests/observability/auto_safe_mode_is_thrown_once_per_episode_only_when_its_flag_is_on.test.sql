-- Auto safe mode: when the flag ops.auto_safe_mode is on and a burn-rate rule marked
-- auto_safe_mode fires, ops.evaluate_alerts turns global.safe_mode fully on, ledgered with actor
-- 'alerts' and a reason naming the rules, once per firing episode (an operator's later choice
-- stands), and never turns it off.
begin;
select plan(16);

update public.alert_rules set enabled = false where metric not in ('slo_burn_rate', 'slo_burn_pair');
delete from vault.secrets where name = 'alert_webhook_url';
-- A scheduler tick between the migrations and the test setup (which deactivates every job) may
-- already have evaluated alerts or queued requests: start from none. Ledger rows are read from
-- this transaction only ("timestamp" >= now()) for the same reason.
delete from ops.alert_state;
delete from net.http_request_queue;
select from vault.create_secret('http://127.0.0.1:9/hooks/alerts', 'alert_webhook_url');

select is((select value from public.feature_flags where key = 'ops.auto_safe_mode'),
          '{"enabled": false}'::jsonb, 'the flag is seeded off');
select lives_ok($$ select public.validate_feature_flag('ops.auto_safe_mode', '{"enabled": true}') $$,
                'its values pass flag validation');

-- queue-worker burns its budget 40 times over (20 of 100 requests failed 2 minutes ago): every
-- pair and the burn > 2 rule fire.
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - interval '2 minutes', 'queue-worker', 10, g > 20 from generate_series(1, 100) g;

select results_eq(
  $$ select rule from ops.evaluate_alerts(now()) where firing order by rule $$,
  $$ values ('slo.burn.page_1h'), ('slo.burn.page_6h'), ('slo.burn.ticket_3d'), ('slo.burn_rate') $$,
  'the burn-rate rules fire');
select is((select value from public.feature_flags where key = 'global.safe_mode'),
          '{"enabled": false}'::jsonb, 'with the flag off, safe mode is left alone');
select is((select count(*)::int from public.ai_action_ledger where "timestamp" >= now() and target = 'global.safe_mode'
            and actor = 'alerts'), 0, 'and nothing about it is ledgered');

-- The operator opts in; the next evaluation (no alert changes state) throws the switch.
update public.feature_flags set value = '{"enabled": true}' where key = 'ops.auto_safe_mode';
select is_empty($$ select * from ops.evaluate_alerts(now()) $$, 'no alert changed state');
select is((select value from public.feature_flags where key = 'global.safe_mode'),
          '{"enabled": true}'::jsonb, 'with the flag on, the firing burn rules turn safe mode on');
select results_eq(
  $$ select action, actor, before, after, reason from public.ai_action_ledger
      where "timestamp" >= now() and target = 'global.safe_mode' and actor <> 'migration:20261122020000' order by id $$,
  $$ values ('feature_flags.update', 'alerts', '{"enabled": false}'::jsonb, '{"enabled": true}'::jsonb,
             'auto safe mode: alert slo.burn.page_1h, slo.burn.page_6h, slo.burn_rate fired') $$,
  'the change is ledgered with actor alerts and a reason naming the rules (not the ticket)');
select is((select updated_by from public.feature_flags where key = 'global.safe_mode'), 'alerts',
          'the flag records who changed it');
select ok((select count(*) = 1 from net.http_request_queue
            where convert_from(body, 'UTF8')::jsonb ->> 'text' like
                  ':octagonal_sign: global.safe_mode turned ON by the alert evaluator (slo.burn.page_1h, slo.burn.page_6h, slo.burn_rate).%'),
          'and announced on the webhook');

-- The operator turns it off while the rules still fire: the evaluator does not overrule them.
update public.feature_flags set value = '{"enabled": false}' where key = 'global.safe_mode';
select is_empty($$ select * from ops.evaluate_alerts(now() + interval '1 minute') $$,
                'a later evaluation in the same episode changes nothing');
select is((select value from public.feature_flags where key = 'global.safe_mode'),
          '{"enabled": false}'::jsonb, 'safe mode is thrown once per firing episode');

-- The operator turns it on; the rules resolve: the evaluator never turns it off.
update public.feature_flags set value = '{"enabled": true}' where key = 'global.safe_mode';
select results_eq(
  $$ select count(*)::int from ops.evaluate_alerts(now() + interval '4 days') where not firing $$,
  $$ values (4) $$, 'once the data is gone every burn rule resolves');
select is((select value from public.feature_flags where key = 'global.safe_mode'),
          '{"enabled": true}'::jsonb, 'and safe mode stays on: the evaluator never turns it off');

-- A new episode with safe mode only on for half the users: turned fully on.
update public.feature_flags set value = '{"enabled": true, "percentage": 50}'
 where key = 'global.safe_mode';
select results_eq(
  $$ select count(*)::int from ops.evaluate_alerts(now()) where firing $$,
  $$ values (4) $$, 'with the data back in the windows the rules fire again: a new episode');
select is((select value from public.feature_flags where key = 'global.safe_mode'),
          '{"enabled": true}'::jsonb,
          'the new episode throws safe mode again, and a partial rollout counted as not yet on');

select * from finish();
rollback;
