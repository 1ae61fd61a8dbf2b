-- The health and dead-letter views (columns, counts, ages) and the runbook SQL from
-- docs/queue.md, run verbatim as the postgres owner does in the SQL editor.
begin;
select plan(22);

select has_view('public', 'vw_events_queue_health', 'vw_events_queue_health exists');
select has_view('public', 'vw_discovery_queue_health', 'vw_discovery_queue_health exists');
select has_view('public', 'vw_dead_letter_queue', 'vw_dead_letter_queue exists');
select columns_are('public', 'vw_events_queue_health',
                   array['topic', 'status', 'items', 'p95_age_sec', 'oldest_age_sec'],
                   'vw_events_queue_health has the contract''s columns');
select columns_are('public', 'vw_discovery_queue_health',
                   array['status', 'items', 'p95_age_sec', 'oldest_age_sec'],
                   'vw_discovery_queue_health has the contract''s columns');
select columns_are('public', 'vw_dead_letter_queue',
                   array['queue', 'id', 'topic', 'attempts', 'last_error', 'failed_at', 'payload'],
                   'vw_dead_letter_queue has the contract''s columns');

-- A known state, with ages computed from now() (fixed within this transaction).
delete from public.marketplace_discovery_queue;
select tests.create_supabase_user('runbook_user');
insert into public.marketplace_discovery_queue (interest_id, user_id, status, run_at, created_at,
                                                attempts, lease_token, lease_expires_at,
                                                last_error)
select gen_random_uuid(), tests.get_supabase_uid('runbook_user'), v.status,
       now() - make_interval(secs => v.age), now() - interval '1 day', v.attempts,
       case when v.status = 'processing' then gen_random_uuid() end,
       case when v.status = 'processing' then now() + make_interval(secs => v.lease) end,
       case when v.status = 'error' then 'gave up' end
from (values ('queued', 10, 0, 0), ('queued', 20, 0, 0), ('queued', -60, 0, 0),
             ('processing', 100, 1, -5), ('processing', 50, 1, 60),
             ('done', 1000, 1, 0), ('error', 300, 5, 0)) as v(status, age, attempts, lease);
-- A queued row created after its run_at is aged from its creation.
insert into public.marketplace_discovery_queue (interest_id, user_id, run_at, created_at)
values (gen_random_uuid(), tests.get_supabase_uid('runbook_user'), now() - interval '1 hour',
        now() - interval '30 seconds');

select results_eq(
  $$ select status, items::int, p95_age_sec, oldest_age_sec from public.vw_discovery_queue_health $$,
  $$ values ('queued', 4, 29.000::numeric, 30.000::numeric),
            ('processing', 2, 97.500::numeric, 100.000::numeric),
            ('done', 1, null, null),
            ('error', 1, 300.000::numeric, 300.000::numeric) $$,
  'vw_discovery_queue_health: items per status; ages since runnable; future rows have none');

-- Runbook, verbatim.
select lives_ok($$ SELECT * FROM public.vw_discovery_queue_health $$, 'runbook: discovery health');
select is((SELECT p95_age_sec FROM public.vw_discovery_queue_health WHERE status = 'queued'),
          29.000::numeric, 'runbook: p95 age of queued discovery items');
select lives_ok($$ SELECT * FROM public.vw_dead_letter_queue LIMIT 5 $$, 'runbook: DLQ');
select lives_ok($$ SELECT * FROM public.vw_events_queue_health $$, 'runbook: events health');
select is((select count(*)::int from (SELECT * FROM public.marketplace_discovery_queue
WHERE status = 'processing' AND lease_expires_at < now()) as expired), 1,
          'runbook: lists the expired lease');
UPDATE public.marketplace_discovery_queue
SET status = 'queued', lease_token = NULL, lease_expires_at = NULL
WHERE status = 'processing' AND lease_expires_at < now();
select is((select count(*)::int from public.marketplace_discovery_queue
            where status = 'processing'), 1, 'runbook: the requeue update frees the expired lease only');
select is((select count(*)::int from public.vw_dead_letter_queue
            where queue = 'marketplace_discovery_queue'), 1, 'the discovery dead letter is listed');
select is((select payload from public.vw_dead_letter_queue where queue = 'marketplace_discovery_queue'),
          (select jsonb_build_object('interest_id', interest_id, 'user_id', user_id)
             from public.marketplace_discovery_queue where status = 'error'),
          'a discovery dead letter''s payload names its interest and user');
DELETE FROM public.marketplace_discovery_queue WHERE status = 'error';
select is((select count(*)::int from public.vw_dead_letter_queue
            where queue = 'marketplace_discovery_queue'), 0, 'runbook: the DLQ delete empties it');

-- Events health per topic.
insert into public.events_queue (topic, payload, status, run_at, created_at, attempts, last_error)
values ('t.h1', '{}', 'queued', now() - interval '40 s', now() - interval '1 h', 0, null),
       ('t.h1', '{}', 'done', now() - interval '1 h', now() - interval '1 h', 1, null),
       ('t.h1', '{}', 'done', now() - interval '1 h', now() - interval '1 h', 1, null),
       ('t.h2', '{}', 'error', now() - interval '90 s', now() - interval '1 h', 5, 'nope');
select results_eq(
  $$ select topic, status, items::int, p95_age_sec, oldest_age_sec
       from public.vw_events_queue_health where topic like 't.h_' $$,
  $$ values ('t.h1', 'queued', 1, 40.000::numeric, 40.000::numeric),
            ('t.h1', 'done', 2, null, null),
            ('t.h2', 'error', 1, 90.000::numeric, 90.000::numeric) $$,
  'vw_events_queue_health: one row per topic and status present');
select is((select array[queue, topic, last_error] from public.vw_dead_letter_queue
            where topic = 't.h2'),
          array['events_queue', 't.h2', 'nope'], 'the events dead letter is listed');
select ok((select failed_at = updated_at from public.vw_dead_letter_queue d
             join public.events_queue q on q.id = d.id and d.queue = 'events_queue'
            where d.topic = 't.h2'),
          'failed_at is when the row was dead-lettered');

-- service_role reads the views too.
select tests.authenticate_as_service_role();
select lives_ok($$ select * from public.vw_events_queue_health $$, 'service_role reads events health');
select lives_ok($$ select * from public.vw_discovery_queue_health $$, 'service_role reads discovery health');
select lives_ok($$ select * from public.vw_dead_letter_queue $$, 'service_role reads the DLQ');

select * from finish();
rollback;
