-- The per-queue SQL is written out once per queue on purpose (each function keeps its own cached
-- plan, with no dynamic SQL), so a fix to one copy must reach the other. Each pair is compared
-- with tests.twins_agree after explicit substitutions: the functions' own names and the queue
-- tables (for every pair), and each difference the queues' shapes require (the events queue's
-- topic; the discovery queue's (user_id, interest_id) identity). A substitution that no longer
-- matches fails too, so a change inside a documented difference is caught as well. The last
-- tests prove the check can fail.
begin;
select plan(16);

-- One row per pair: the events copy first. `*_after` / `*_before` pick one branch or statement
-- of a function that handles both queues (null: the whole function); `*_subs` are the
-- differences beyond the names, written against text where the tables already read
-- <queue table>.
create temp table twins (
  ord serial,
  description text primary key,
  events_fn regprocedure not null,
  discovery_fn regprocedure not null,
  events_after text, events_before text,
  discovery_after text, discovery_before text,
  events_subs text[] not null default '{}',
  discovery_subs text[] not null default '{}'
);

-- The comparison for one row: whole functions get their own names replaced by <twin>; every
-- text gets its queue table replaced by <queue table>; then the row's own substitutions. The
-- empty search_path makes regproc print schema-qualified names.
create function pg_temp.twins_check(p_description text)
returns text
language sql
volatile
set search_path = ''
as $$
  select tests.twins_agree(
    case when t.events_after is null then tests.function_source(t.events_fn)
         else tests.sql_between(tests.function_source(t.events_fn), t.events_after,
                                t.events_before) end,
    case when t.events_after is null
         then array[[t.events_fn::regproc::text || '(', '<twin>(']] else '{}' end
      || array[['public.events_queue', '<queue table>']] || t.events_subs,
    case when t.discovery_after is null then tests.function_source(t.discovery_fn)
         else tests.sql_between(tests.function_source(t.discovery_fn), t.discovery_after,
                                t.discovery_before) end,
    case when t.discovery_after is null
         then array[[t.discovery_fn::regproc::text || '(', '<twin>(']] else '{}' end
      || array[['public.marketplace_discovery_queue', '<queue table>']] || t.discovery_subs,
    t.description)
  from pg_temp.twins t where t.description = p_description
$$;

-- ---------------------------------------------------------------------------------------------
-- lease / ack / fail / release: the events copy, minus its topic, is the discovery copy.
-- ---------------------------------------------------------------------------------------------

insert into twins (description, events_fn, discovery_fn, events_subs) values
  ('lease_events and lease_discovery agree but for the topic',
   'public.lease_events(text, integer, integer, text)',
   'public.lease_discovery(integer, integer, text)',
   -- The events queue leases one topic at a time; discovery has no topic.
   array[['p_topic text, ', ''],
         ['q.topic = p_topic and ', '']]);

insert into twins (description, events_fn, discovery_fn) values
  ('ack_events and ack_discovery agree',
   'public.ack_events(bigint[], uuid)', 'public.ack_discovery(bigint[], uuid)'),
  ('fail_events and fail_discovery agree',
   'public.fail_events(bigint[], uuid, text)', 'public.fail_discovery(bigint[], uuid, text)'),
  ('release_events and release_discovery agree',
   'public.release_events(bigint[], uuid)', 'public.release_discovery(bigint[], uuid)'),
  ('extend_events_lease and extend_discovery_lease agree',
   'public.extend_events_lease(bigint[], uuid, integer)',
   'public.extend_discovery_lease(bigint[], uuid, integer)');

-- ---------------------------------------------------------------------------------------------
-- The health functions: the events copy reports per topic, and only the (topic, status) pairs
-- that have rows; the discovery copy always reports all four statuses. The queued statement,
-- the aggregates, the exact-or-estimate switch and its constants are shared.
-- ---------------------------------------------------------------------------------------------

insert into twins (description, events_fn, discovery_fn, events_subs, discovery_subs) values
  ('events_queue_health and discovery_queue_health agree but for per-topic rows',
   'ops.events_queue_health()', 'ops.discovery_queue_health()',
   array[['RETURNS TABLE(topic text, ', 'RETURNS TABLE('],
         -- Queued: the topics present, then the same counts and ages per topic.
         ['with recursive topics as (
             (select q.topic from <queue table> q
               where q.status = ''queued'' order by q.topic limit 1)
             union all
             select (select q.topic from <queue table> q
                      where q.status = ''queued'' and q.topic > t.topic order by q.topic limit 1)
               from topics t
              where t.topic is not null
           ), counts as materialized (select t.topic, ',
          'with counts as materialized (select '],
         [' and q.topic = t.topic', ''],
         [' and q.topic = c.topic', ''],
         [' from topics t where t.topic is not null) select c.topic, ', ') select '],
         -- Processing and error: grouped by topic, only the pairs that have rows.
         ['select a.topic, a.status, pg_catalog.count(*),', 'select <status>, <count>,'],
         ['from (select q.topic, q.status,', '<processing and error rows> (select q.status,'],
         ['union all select q.topic, q.status,', 'union all select q.status,'],
         [') as a group by a.topic, a.status;', ') as a <grouped by status>;'],
         -- Done: one row per topic, counted or estimated from the topic's share of the sample.
         ['then return query
           select q.topic, ''done''::text, pg_catalog.count(*), null::numeric, null::numeric
             from <queue table> q where q.status = ''done''
            group by q.topic; else',
          'then <done rows, counted> else'],
         ['return query
           select s.topic, ''done''::text,
                  pg_catalog.round(table_rows * s.done / pg_catalog.sum(s.sampled) over ())::bigint,
                  null::numeric, null::numeric
             from (select q.topic,
                          pg_catalog.count(*) filter (where q.status = ''done'') as done,
                          pg_catalog.count(*) as sampled
                     from <queue table> q tablesample system (sample_percent)
                    group by q.topic) as s
            where s.done > 0; end if;',
          '<done rows, estimated> end if;']],
   array[['done_items bigint; ', ''],
         -- Processing and error: both statuses always, with 0 items when there are none.
         ['select s.status, pg_catalog.count(a.status),', 'select <status>, <count>,'],
         ['from (values (2, ''processing''), (4, ''error'')) as s(ord, status)
           left join (select q.status,',
          '<processing and error rows> (select q.status,'],
         [') as a on a.status = s.status group by s.ord, s.status;', ') as a <grouped by status>;'],
         -- Done: one row, counted or estimated from the sample's done share.
         ['then select pg_catalog.count(*) into done_items
             from <queue table> q where q.status = ''done''; else',
          'then <done rows, counted> else'],
         ['select pg_catalog.round(table_rows * pg_catalog.count(*) filter (where q.status = ''done'')
                                   / greatest(pg_catalog.count(*), 1))::bigint
             into done_items
             from <queue table> q tablesample system (sample_percent);
           end if;
           return query select ''done''::text, done_items, null::numeric, null::numeric;',
          '<done rows, estimated> end if;']]);

-- ---------------------------------------------------------------------------------------------
-- Functions that handle both queues, one branch or statement each.
-- ---------------------------------------------------------------------------------------------

-- The dead-letter redrive: a row stays dead while an active row holds its identity, which is
-- (topic, dedupe_key) for events (no key: the row itself) and (user_id, interest_id) for
-- discovery.
insert into twins (description, events_fn, discovery_fn, events_after, events_before,
                   discovery_after, discovery_before, events_subs, discovery_subs) values
  ('redrive_dead_letters treats both queues alike but for their dedupe identity',
   'ops.redrive_dead_letters(text, bigint[], text)', 'ops.redrive_dead_letters(text, bigint[], text)',
   'if p_queue = ''events_queue'' then', 'elsif p_queue = ''marketplace_discovery_queue'' then',
   'elsif p_queue = ''marketplace_discovery_queue'' then', 'else raise exception',
   array[['q.topic, coalesce(q.dedupe_key, q.id::text)', '<identity of q>'],
         ['(q.dedupe_key is null or not exists (
             select 1 from <queue table> a
              where a.topic = q.topic and a.dedupe_key = q.dedupe_key
                and a.status in (''queued'', ''processing'')))',
          '<no active row has the identity of q>']],
   array[['q.user_id, q.interest_id', '<identity of q>'],
         ['not exists (
             select 1 from <queue table> a
              where a.user_id is not distinct from q.user_id
                and a.interest_id = q.interest_id
                and a.status in (''queued'', ''processing''))',
          '<no active row has the identity of q>']]);

insert into twins (description, events_fn, discovery_fn, events_after, events_before,
                   discovery_after, discovery_before) values
  ('purge_dead_letters treats both queues alike',
   'ops.purge_dead_letters(text, interval, text)', 'ops.purge_dead_letters(text, interval, text)',
   'if p_queue = ''events_queue'' then', 'elsif p_queue = ''marketplace_discovery_queue'' then',
   'elsif p_queue = ''marketplace_discovery_queue'' then', 'else raise exception'),
  ('requeue_expired_leases treats both queues alike',
   'public.requeue_expired_leases()', 'public.requeue_expired_leases()',
   'discovery_changed integer; begin', 'select pg_catalog.count(*) into events_changed',
   'into events_changed from changed;', 'select pg_catalog.count(*) into discovery_changed');

-- The retention prune (ops.purge_done_jobs is one of its batches): each queue's done rows, then
-- its dead letters, by its own settings row.
insert into twins (description, events_fn, discovery_fn, events_after, events_before,
                   discovery_after, discovery_before) values
  ('prune_queues treats both queues alike',
   'ops.prune_queues(integer, interval, boolean)', 'ops.prune_queues(integer, interval, boolean)',
   'where r.queue = ''events_queue'';', 'select coalesce(p_done_older_than, r.done_retention)',
   'where r.queue = ''marketplace_discovery_queue'';', 'return query select done_total, dead_total;');

select pg_temp.twins_check(t.description) from twins t order by t.ord;

-- ---------------------------------------------------------------------------------------------
-- The check can fail: a one-character change to one copy (made, then rolled back with this
-- transaction) is reported with where the copies part.
-- ---------------------------------------------------------------------------------------------

do $$
declare
  source text := pg_catalog.pg_get_functiondef('public.ack_discovery(bigint[], uuid)'::regprocedure);
begin
  if pg_catalog.strpos(source, 'set status = ''done''') = 0 then
    raise exception 'the mutation target is gone from ack_discovery; pick another';
  end if;
  execute pg_catalog.replace(source, 'set status = ''done''', 'set status = ''dome''');
end
$$;

select * from check_test(
  pg_temp.twins_check('ack_events and ack_discovery agree'), false,
  'a one-character drift between ack_events and ack_discovery',
  'ack_events and ack_discovery agree',
  '^first difference at character \d+ of the normalised texts:\n'
    || '    first:  .*set status = ''done''.*\n    second: .*set status = ''dome''',
  true);

do $$
declare
  source text := pg_catalog.pg_get_functiondef(
    'ops.purge_dead_letters(text, interval, text)'::regprocedure);
  drifted text := pg_catalog.regexp_replace(
    source, '(marketplace_discovery_queue\s+where status = ''error'' and updated_at) <', '\1 <=');
begin
  if drifted = source then
    raise exception 'the mutation target is gone from purge_dead_letters; pick another';
  end if;
  execute drifted;
end
$$;

select * from check_test(
  pg_temp.twins_check('purge_dead_letters treats both queues alike'), false,
  'a one-character drift between the branches of purge_dead_letters',
  'purge_dead_letters treats both queues alike',
  '^first difference at character \d+ of the normalised texts:\n'
    || '    first:  .*updated_at < pg_catalog.now.*\n    second: .*updated_at <= pg_catalog.now',
  true);

select * from finish();
rollback;
