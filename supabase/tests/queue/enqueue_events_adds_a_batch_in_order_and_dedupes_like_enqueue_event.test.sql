-- public.enqueue_events: one call, ids in input order, enqueue_event's dedupe (against active
-- jobs, and within the batch), the optional per-item arrays, argument errors (22023), grants.
begin;
select plan(23);

select tests.authenticate_as_service_role();

create temp table got (name text primary key, ids bigint[]) on commit drop;
grant all on got to service_role;

insert into got values ('plain', public.enqueue_events(
  p_topic => 't.batch', p_payloads => '[{"n": 1}, {"n": 2}, {"n": 3}]'));
select is(cardinality((select ids from got where name = 'plain')), 3, 'one id per payload');
select is(
  (select array_agg(q.payload ->> 'n' order by u.ord)
     from got g, unnest(g.ids) with ordinality as u(id, ord)
     join public.events_queue q on q.id = u.id
    where g.name = 'plain'),
  array['1', '2', '3'],
  'the ids are in the payloads'' order');
select is(
  (select array_agg(distinct row(q.topic, q.status, q.attempts, q.max_attempts, q.priority,
                                 q.run_at = now(), q.dedupe_key)::text)
     from public.events_queue q where q.topic = 't.batch'),
  array[row('t.batch', 'queued', 0, 5, 0, true, null::text)::text],
  'each job is queued with enqueue_event''s defaults');

-- Dedupe against an active job, inside the batch, and with unkeyed items around them.
insert into got values ('held', array[public.enqueue_event('t.dedupe', '{"n": 0}',
                                                             p_dedupe_key => 'held')]);
insert into got values ('mixed', public.enqueue_events(
  't.dedupe', '[{"n": 1}, {"n": 2}, {"n": 3}, {"n": 4}, {"n": 5}]',
  p_dedupe_keys => array['held', 'twice', null, 'twice', null]));
select is((select ids[1] from got where name = 'mixed'), (select ids[1] from got where name = 'held'),
          'a key an active job holds returns that job''s id');
select is((select ids[2] = ids[4] from got where name = 'mixed'), true,
          'a key repeated in the batch returns one id at both positions');
select is((select payload from public.events_queue
            where id = (select ids[2] from got where name = 'mixed')), '{"n": 2}'::jsonb,
          'the repeated key''s job carries its first occurrence''s payload');
select is((select count(distinct x)::int from got g, unnest(g.ids) x where g.name = 'mixed'), 4,
          'unkeyed items are separate jobs');
select is((select count(*)::int from public.events_queue where topic = 't.dedupe'), 4,
          'the batch added three jobs: twice, and the two unkeyed ones');
select is((select payload from public.events_queue
            where id = (select ids[1] from got where name = 'held')), '{"n": 0}'::jsonb,
          'the holding job is untouched');
select is(public.enqueue_events('t.dedupe', '[{}, {}]', p_dedupe_keys => array['twice', 'twice']),
          (select array[ids[2], ids[2]] from got where name = 'mixed'),
          'a second batch with the same key gets the active job twice');

-- Options: per-item run_at (null: now), batch-wide max_attempts and priority.
insert into got values ('options', public.enqueue_events(
  p_topic => 't.options', p_payloads => '[[1], [2]]',
  p_run_at => array[now() + interval '1 hour', null]::timestamptz[],
  p_max_attempts => 2, p_priority => -3));
select is(
  (select array_agg(row(q.run_at - now(), q.max_attempts, q.priority)::text order by u.ord)
     from got g, unnest(g.ids) with ordinality as u(id, ord)
     join public.events_queue q on q.id = u.id
    where g.name = 'options'),
  array[row(interval '1 hour', 2, -3)::text, row(interval '0', 2, -3)::text],
  'run_at per item (null is now), max_attempts and priority for all');

select is(public.enqueue_events('t.empty', '[]'), '{}'::bigint[], 'an empty batch adds nothing');

-- Argument errors name the argument; a refused call writes nothing.
select throws_ok($$ select public.enqueue_events('t.bad', '{"n": 1}') $$, '22023',
                 'p_payloads must be a JSON array', 'an object instead of an array is refused');
select throws_ok($$ select public.enqueue_events('t.bad', null) $$, '22023',
                 'p_payloads must be a JSON array', 'null payloads are refused');
select throws_ok($$ select public.enqueue_events('', '[{}]') $$, '22023',
                 'p_topic must be 1 to 200 characters', 'an empty topic is refused');
select throws_ok($$ select public.enqueue_events('t.bad', '[{}, {}]', p_dedupe_keys => array['a']) $$,
                 '22023', 'p_dedupe_keys must have one entry per payload (2 payloads, 1 keys)',
                 'fewer keys than payloads are refused');
select throws_ok($$ select public.enqueue_events('t.bad', '[{}]',
                                                 p_run_at => array[now(), now()]) $$,
                 '22023', 'p_run_at must have one entry per payload (1 payloads, 2 run_at)',
                 'more run_at than payloads are refused');
select throws_ok($$ select public.enqueue_events('t.bad', '[{}, {}]',
                                                 p_dedupe_keys => array[['a'], ['b']]) $$,
                 '22023', 'p_dedupe_keys must be a one-dimensional array (one entry per payload)',
                 'a two-dimensional array is refused, saying so, even with the right count');
select throws_ok($$ select public.enqueue_events('t.bad', '[{}, {}]',
                                                 p_dedupe_keys => array['ok', '']) $$,
                 '22023', 'p_dedupe_keys[2] must be 1 to 512 characters',
                 'an empty key is refused, naming its position');
select throws_ok($$ select public.enqueue_events('t.bad', '[{}]', p_max_attempts => 0) $$,
                 '22023', 'p_max_attempts must be between 1 and 100', 'max_attempts 0 is refused');
select is((select count(*)::int from public.events_queue where topic = 't.bad'), 0,
          'refused calls wrote nothing');

select tests.clear_authentication();
select ok(not has_function_privilege(r,
            'public.enqueue_events(text, jsonb, text[], timestamptz[], integer, integer)', 'execute'),
          r || ' may not enqueue')
  from unnest(array['anon', 'authenticated']) as r;

select * from finish();
rollback;
