-- gc_learning_events() / gc_intent_signals(): delete only rows past their retention
-- (ops.learning_settings), oldest first, at most gc_batch_size × gc_max_batches rows per call;
-- each call is ledgered (actor pg_cron when the daily job runs it).
begin;
select plan(14);

delete from public.learning_events;
delete from public.intent_signals;
select from tests.create_supabase_user('gc_user');

-- A small bound so the batching shows: 2 rows per batch, 2 batches per call.
update ops.learning_settings set gc_batch_size = 2, gc_max_batches = 2;
select results_eq(
  $$ select action, after ->> 'gc_batch_size', after ->> 'gc_max_batches'
       from public.ai_action_ledger order by id desc limit 1 $$,
  $$ values ('learning.learning_settings.update', '2', '2') $$,
  'a settings change is ledgered');

-- Seven slots older than the 90-day retention (91–97 days), three inside it.
insert into public.learning_events (ts, candidate_id)
select now() - make_interval(days => d), 'old-' || d from generate_series(91, 97) d;
insert into public.learning_events (ts, candidate_id) values
  (now() - interval '89 days 23 hours', 'keep-edge'), (now() - interval '30 days', 'keep-30'),
  (now(), 'keep-now');

select is(public.gc_learning_events(), 4::bigint,
          'one call deletes at most batch size × max batches (2 × 2) rows');
select results_eq(
  $$ select candidate_id from public.learning_events where candidate_id like 'old-%' order by ts $$,
  $$ values ('old-93'), ('old-92'), ('old-91') $$,
  'the oldest rows went first');
select results_eq(
  $$ select after from public.ai_action_ledger order by id desc limit 1 $$,
  $$ values ('{"removed": 4, "batches": 2}'::jsonb) $$,
  'the call is ledgered with what it removed');
select is(public.gc_learning_events(), 3::bigint, 'the next call deletes the rest of the backlog');
select is(public.gc_learning_events(), 0::bigint, 'then nothing is left to delete');
select results_eq(
  $$ select candidate_id from public.learning_events order by ts $$,
  $$ values ('keep-edge'), ('keep-30'), ('keep-now') $$,
  'rows inside the retention are untouched');

-- Retention is configuration.
update ops.learning_settings set events_retention = interval '7 days';
select is(public.gc_learning_events(), 2::bigint, 'a shorter retention deletes more');
select throws_ok(
  $$ update ops.learning_settings set events_retention = interval '12 hours' $$,
  '23514', null, 'retention may not be shorter than the reward window');

-- Intent signals: 30 days by default.
insert into public.intent_signals (user_id, interest_id, signal, created_at)
select tests.get_supabase_uid('gc_user'), '11111111-1111-1111-1111-111111111111', 'click',
       now() - make_interval(days => d)
from unnest(array[29, 31, 40, 50, 60, 70]) d;
select is(public.gc_intent_signals(), 4::bigint, 'gc_intent_signals is bounded the same way');
select is(public.gc_intent_signals(), 1::bigint, 'and finishes on the next call');
select is((select array_agg(extract(day from now() - created_at)::int) from public.intent_signals),
          array[29], 'only the signal inside the 30-day retention is left');

-- The daily job, run as pg_cron runs it: the ledger names pg_cron.
insert into public.learning_events (ts, candidate_id) values (now() - interval '100 days', 'old-cron');
select from set_config('application_name', 'pg_cron', true);
do $$ begin
  execute (select command from cron.job where jobname = 'learning-events-gc');
end $$;
select from set_config('application_name', '', true);
select results_eq(
  $$ select actor, action, after from public.ai_action_ledger order by id desc limit 1 $$,
  $$ values ('pg_cron', 'learning.gc_learning_events', '{"removed": 1, "batches": 1}'::jsonb) $$,
  'the daily job''s run is ledgered with actor pg_cron');
select is((select count(*)::int from public.learning_events where candidate_id = 'old-cron'), 0,
          'and it removed the expired row');

select * from finish();
rollback;
