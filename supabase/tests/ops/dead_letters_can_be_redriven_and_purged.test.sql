-- ops.redrive_dead_letters / ops.purge_dead_letters: the DLQ runbook's two moves, ledgered.
begin;
select plan(12);

-- Three dead events: a plain one, and two dead copies of dedupe key 'k' while a live 'k' runs.
insert into public.events_queue (topic, payload, status, attempts, last_error, dedupe_key)
values ('t.dlq', '{"n": 1}', 'error', 5, 'boom', null),
       ('t.dlq', '{"n": 2}', 'error', 5, 'boom', 'k'),
       ('t.dlq', '{"n": 3}', 'error', 5, 'boom', 'k'),
       ('t.dlq', '{"n": 4}', 'queued', 0, null, 'k');

select is(ops.redrive_dead_letters('events_queue', p_reason => 'fixed the handler'), 1,
          'only the dead row whose dedupe key is free is redriven');
select is((select row(status, attempts, lease_token)::text from public.events_queue
            where topic = 't.dlq' and payload = '{"n": 1}'),
          row('queued', 0, null::uuid)::text,
          'a redriven row is queued again with a fresh attempt budget');
select is((select count(*)::int from public.events_queue
            where topic = 't.dlq' and dedupe_key = 'k' and status = 'error'), 2,
          'dead copies of an active dedupe key stay dead');

-- Once the live holder is done, exactly one of the two dead copies can come back.
update public.events_queue set status = 'done' where topic = 't.dlq' and payload = '{"n": 4}';
select is(ops.redrive_dead_letters('events_queue'), 1,
          'one row per dedupe identity is redriven');
select is((select count(*)::int from public.events_queue
            where topic = 't.dlq' and dedupe_key = 'k' and status = 'queued'), 1,
          'so the active-dedupe index is never violated');

-- Redrive by id leaves other dead rows alone.
insert into public.events_queue (topic, payload, status, attempts, last_error)
values ('t.dlq2', '{}', 'error', 5, 'x'), ('t.dlq2', '{}', 'error', 5, 'y');
select is(ops.redrive_dead_letters('events_queue',
            array[(select min(id) from public.events_queue where topic = 't.dlq2')]), 1,
          'redrive by id moves just that row');
select is((select count(*)::int from public.events_queue
            where topic = 't.dlq2' and status = 'error'), 1, 'and leaves the other dead');

select is((select row(actor is not null, after, reason)::text from public.ai_action_ledger
            where action = 'queue.redrive_dead_letters' order by id limit 1),
          row(true, '{"moved": 1}'::jsonb, 'fixed the handler')::text,
          'each redrive leaves a ledger row with its count and reason');

-- Purge only what has been dead long enough.
update public.events_queue set updated_at = now() - interval '10 days'
 where topic = 't.dlq2' and status = 'error';
select is(ops.purge_dead_letters('events_queue', interval '7 days'), 1,
          'purge deletes dead rows older than the cutoff');
select is(ops.purge_dead_letters('events_queue', interval '7 days'), 0,
          'and nothing younger');

select throws_ok($$ select ops.redrive_dead_letters('nope') $$, '22023', null,
                 'an unknown queue is refused');
select ok(not has_function_privilege('service_role',
            'ops.redrive_dead_letters(text, bigint[], text)', 'execute'),
          'no API role may redrive (ops is operator-only)');

select * from finish();
rollback;
