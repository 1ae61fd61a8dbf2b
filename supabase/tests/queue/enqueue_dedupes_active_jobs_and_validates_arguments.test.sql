-- public.enqueue_event: defaults, dedupe against active jobs only, and argument errors (22023).
begin;
select plan(17);

select tests.authenticate_as_service_role();

create temp table ids (name text primary key, id bigint) on commit drop;
grant all on ids to service_role;

insert into ids values ('a', public.enqueue_event('t.enqueue', '{"n": 1}'));
select is(
  (select row(topic, payload, status, attempts, max_attempts, priority, run_at = now(),
              lease_token, dedupe_key)::text
     from public.events_queue where id = (select id from ids where name = 'a')),
  row('t.enqueue', '{"n": 1}'::jsonb, 'queued', 0, 5, 0, true, null::uuid, null::text)::text,
  'a new job is queued with the documented defaults');

insert into ids values ('k1', public.enqueue_event('t.enqueue', '{"n": 2}', p_dedupe_key => 'k'));
select is(public.enqueue_event('t.enqueue', '{"n": 3}', p_dedupe_key => 'k'),
          (select id from ids where name = 'k1'),
          'the same dedupe_key returns the queued job''s id');
select is((select count(*)::int from public.events_queue where dedupe_key = 'k'), 1,
          'and inserts nothing');
select isnt(public.enqueue_event('t.other', '{}', p_dedupe_key => 'k'),
            (select id from ids where name = 'k1'),
            'the same key under another topic is a different job');

-- Processing still dedupes; done frees the key.
select from public.lease_events('t.enqueue', 10, 60);
select is(public.enqueue_event('t.enqueue', '{}', p_dedupe_key => 'k'),
          (select id from ids where name = 'k1'),
          'a processing job still holds its dedupe_key');
select is(public.ack_events(array[(select id from ids where name = 'k1')],
                            (select lease_token from public.events_queue
                              where id = (select id from ids where name = 'k1'))), 1,
          'the holder is acked');
insert into ids values ('k2', public.enqueue_event('t.enqueue', '{"n": 4}', p_dedupe_key => 'k'));
select isnt((select id from ids where name = 'k2'), (select id from ids where name = 'k1'),
            'once the holder is done the key enqueues a new job');

insert into ids values ('o', public.enqueue_event(
  p_topic => 't.options', p_payload => '[1, 2]', p_run_at => now() + interval '1 hour',
  p_max_attempts => 2, p_priority => -3));
select is(
  (select row(run_at - now(), max_attempts, priority)::text
     from public.events_queue where id = (select id from ids where name = 'o')),
  row(interval '1 hour', 2, -3)::text,
  'run_at, max_attempts and priority are taken as given');

select throws_ok($$ select public.enqueue_event(null, '{}') $$, '22023',
                 'p_topic must be 1 to 200 characters', 'a null topic is refused');
select throws_ok($$ select public.enqueue_event('', '{}') $$, '22023',
                 'p_topic must be 1 to 200 characters', 'an empty topic is refused');
select throws_ok($$ select public.enqueue_event(repeat('x', 201), '{}') $$, '22023',
                 'p_topic must be 1 to 200 characters', 'a 201-character topic is refused');
select throws_ok($$ select public.enqueue_event('t', null) $$, '22023',
                 'p_payload must not be null', 'a null payload is refused');
select throws_ok($$ select public.enqueue_event('t', '{}', p_max_attempts => 0) $$, '22023',
                 'p_max_attempts must be between 1 and 100', 'max_attempts 0 is refused');
select throws_ok($$ select public.enqueue_event('t', '{}', p_max_attempts => 101) $$, '22023',
                 'p_max_attempts must be between 1 and 100', 'max_attempts 101 is refused');
select throws_ok($$ select public.enqueue_event('t', '{}', p_dedupe_key => '') $$, '22023',
                 'p_dedupe_key must be 1 to 512 characters', 'an empty dedupe_key is refused');
select is((select count(*)::int from public.events_queue where topic = 't'), 0,
          'refused calls wrote nothing');

select throws_ok(
  $$ update public.events_queue set status = 'processing', lease_token = null
      where id = (select id from ids where name = 'a') $$,
  '23514', null, 'a processing row without a lease violates the table''s check');

select * from finish();
rollback;
