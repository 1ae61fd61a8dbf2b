-- ops.evaluate_alerts: each change of a rule's state (and only a change) is stored, written to
-- the ledger with actor 'alerts', and posted as a Slack-compatible message through
-- net.http_post to the Vault secret alert_webhook_url (none: no post, state still recorded);
-- for_duration holds a breached rule pending; vw_alerts agrees with the evaluator.
begin;
select plan(22);

-- Only the RPC error rules, so other rules (whatever the stack's cron history or DLQ holds)
-- cannot add changes.
update public.alert_rules set enabled = false
where rule not in ('rpc.error_rate.critical', 'rpc.error_rate.warning', 'rollback.rpc_error_rate');
delete from vault.secrets where name = 'alert_webhook_url';
-- A scheduler tick between the migrations and the test setup (which deactivates every job) may
-- already have evaluated alerts or queued requests: start from none. Ledger rows are read from
-- this transaction only ("timestamp" >= now()) for the same reason.
delete from ops.alert_state;
delete from net.http_request_queue;

-- 30 RPC spans a minute ago, 6 failed: 20 % over 15 minutes, above 10 % and 5 %, below 30 %.
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - interval '1 minute', 'rpc.enqueue_event', 5, g > 6 from generate_series(1, 30) g;

create temp table changes on commit drop as
select * from ops.evaluate_alerts(now());
select results_eq(
  $$ select rule, firing, value, webhook_request_id from changes order by rule $$,
  $$ values ('rpc.error_rate.critical', true, 0.2::double precision, null::bigint),
            ('rpc.error_rate.warning', true, 0.2, null) $$,
  'both breached rules change to firing; without a webhook secret nothing is posted');
select is((select count(*)::int from net.http_request_queue), 0, 'no request was queued');
select results_eq(
  $$ select rule, firing, pending_since, changed_at, value from ops.alert_state order by rule $$,
  $$ values ('rollback.rpc_error_rate', false, null::timestamptz, null::timestamptz, 0.2::double precision),
            ('rpc.error_rate.critical', true, now(), now(), 0.2),
            ('rpc.error_rate.warning', true, now(), now(), 0.2) $$,
  'the state of every rule is recorded, changed or not');
select results_eq(
  $$ select action, target, actor, after ->> 'firing', reason
       from public.ai_action_ledger where "timestamp" >= now() and action like 'alert.%' order by id $$,
  $$ values ('alert.firing', 'alert:rpc.error_rate.critical', 'alerts', 'true',
             '20.0 % (fires when > 10.0 %); window 15 min; 30 events'),
            ('alert.firing', 'alert:rpc.error_rate.warning', 'alerts', 'true',
             '20.0 % (fires when > 5.0 %); window 15 min; 30 events') $$,
  'each change is on the ledger with actor alerts and the detail as reason');
select is(current_setting('app.actor', true), '', 'the evaluator restores app.actor');

select results_eq(
  $$ select rule, severity, value, threshold, firing, since from public.vw_alerts order by rule $$,
  $$ values ('rollback.rpc_error_rate', 'critical', 0.2::double precision, 0.3::double precision, false, null::timestamptz),
            ('rpc.error_rate.critical', 'critical', 0.2, 0.1, true, now()),
            ('rpc.error_rate.warning', 'warning', 0.2, 0.05, true, now()) $$,
  'vw_alerts shows the same state');

select is_empty($$ select * from ops.evaluate_alerts(now()) $$,
                'evaluating again without a change reports nothing');
select is((select count(*)::int from public.ai_action_ledger where "timestamp" >= now() and action like 'alert.%'), 2,
          'and writes nothing to the ledger');

-- A webhook now, and a spike for the rollback trigger (30 % for 5 minutes): 15 of 20 more
-- failed a minute ago (21/50 = 42 % over 5 minutes) and 15 of 20 failed 4 minutes from now.
select from vault.create_secret('http://127.0.0.1:9/hooks/alerts', 'alert_webhook_url');
insert into public.kernel_spans (at, path, duration_ms, ok)
select now() - interval '1 minute', 'rpc.enqueue_event', 5, g > 15 from generate_series(1, 20) g
union all
select now() + interval '4 minutes', 'rpc.enqueue_event', 5, g > 15 from generate_series(1, 20) g;

select is_empty($$ select * from ops.evaluate_alerts(now()) $$,
                'a breached rule with a duration does not fire at once');
select results_eq(
  $$ select firing, pending_since from ops.alert_state where rule = 'rollback.rpc_error_rate' $$,
  $$ values (false, now()) $$,
  'it is pending since the evaluation that first saw the breach');
select results_eq(
  $$ select firing, since from public.vw_alerts where rule = 'rollback.rpc_error_rate' $$,
  $$ values (false, now()) $$,
  'vw_alerts shows it pending: not firing, since set');
select is_empty($$ select * from ops.evaluate_alerts(now() + interval '4 minutes') $$,
                'four minutes later it still holds and still does not fire');

create temp table fired on commit drop as
select * from ops.evaluate_alerts(now() + interval '5 minutes');
select results_eq(
  $$ select rule, firing, value from fired $$,
  $$ values ('rollback.rpc_error_rate', true, 0.75::double precision) $$,
  'after holding for 5 minutes it fires (15 of 20 failed in the last 5 minutes)');
select results_eq(
  $$ select q.id, q.method, q.url, q.headers ->> 'Content-Type'
       from net.http_request_queue q $$,
  $$ select f.webhook_request_id, 'POST', 'http://127.0.0.1:9/hooks/alerts', 'application/json'
       from fired f $$,
  'the change is posted through pg_net to the Vault URL, and the request id is returned');
select is(
  (select convert_from(q.body, 'UTF8')::jsonb from net.http_request_queue q),
  jsonb_build_object(
    'text', ':rotating_light: CRITICAL: rollback.rpc_error_rate is firing: RPC error rate above 30 % for 5 minutes',
    'attachments', jsonb_build_array(jsonb_build_object(
      'color', 'danger',
      'fields', jsonb_build_array(
        jsonb_build_object('title', 'Current value', 'value', '75.0 %', 'short', true),
        jsonb_build_object('title', 'Threshold', 'value', '> 30.0 %', 'short', true),
        jsonb_build_object('title', 'Duration', 'value', '5 min', 'short', true),
        jsonb_build_object('title', 'Severity', 'value', 'critical', 'short', true),
        jsonb_build_object('title', 'Detail', 'short', false,
          'value', '75.0 % (fires when > 30.0 %); window 5 min; 20 events; fires after 5 min'),
        jsonb_build_object('title', 'Action', 'value', 'Roll back (plan B: RPCs)',
                           'short', false))))),
  'the body is a Slack message: text plus one attachment of fields');
select is(
  (select after ->> 'webhook_request_id' from public.ai_action_ledger
    where "timestamp" >= now() and target = 'alert:rollback.rpc_error_rate'),
  (select webhook_request_id::text from fired),
  'the ledger row records the webhook request id');

-- Everything ages out of its window: all three resolve, each posted and ledgered.
create temp table resolved on commit drop as
select * from ops.evaluate_alerts(now() + interval '30 minutes');
select results_eq(
  $$ select rule, firing, value from resolved order by rule $$,
  $$ values ('rollback.rpc_error_rate', false, null::double precision),
            ('rpc.error_rate.critical', false, null),
            ('rpc.error_rate.warning', false, null) $$,
  'with no data left every firing rule resolves');
select results_eq(
  $$ select convert_from(q.body, 'UTF8')::jsonb ->> 'text',
            convert_from(q.body, 'UTF8')::jsonb #>> '{attachments,0,color}',
            convert_from(q.body, 'UTF8')::jsonb #>> '{attachments,0,fields,2,value}'
       from net.http_request_queue q
       join resolved r on r.webhook_request_id = q.id
      order by r.rule $$,
  $$ values (':white_check_mark: RESOLVED: rollback.rpc_error_rate: RPC error rate above 30 % for 5 minutes', 'good', '25 min'),
            (':white_check_mark: RESOLVED: rpc.error_rate.critical: RPC error rate above 10 %', 'good', '30 min'),
            (':white_check_mark: RESOLVED: rpc.error_rate.warning: RPC error rate above 5 %', 'good', '30 min') $$,
  'resolved messages are green and say how long the rule fired');
select is((select count(*)::int from public.ai_action_ledger
            where "timestamp" >= now() and action = 'alert.resolved' and actor = 'alerts'), 3,
          'each resolution is on the ledger');
select is((select count(*)::int from ops.alert_state where firing or pending_since is not null), 0,
          'no rule is left firing or pending');

-- Who may evaluate and read.
select ok(not has_function_privilege('service_role', 'ops.evaluate_alerts(timestamptz)', 'EXECUTE')
          and not has_function_privilege('authenticated', 'ops.evaluate_alerts(timestamptz)', 'EXECUTE'),
          'only the owner (pg_cron) runs the evaluator, which reads Vault');
select is((select command from cron.job where jobname = 'alerts-evaluate'),
          'select count(*) from ops.evaluate_alerts()',
          'pg_cron evaluates the rules every minute');

select * from finish();
rollback;
