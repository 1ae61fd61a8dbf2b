-- Learning, part 4: retention. public.gc_learning_events() and public.gc_intent_signals()
-- delete rows older than their retention (ops.learning_settings: 90 and 30 days by default) in
-- bounded batches, and pg_cron runs them daily at 02:00 and 03:00 UTC. docs/learning.md.


-- intent_signals had no index leading with created_at (its indexes serve per-user reads), so
-- each GC batch would otherwise scan the whole table to find the oldest rows.
create index intent_signals_created_idx on public.intent_signals (created_at);


-- =============================================================================================
-- ops.learning_gc — the batch loop both GC functions share
-- =============================================================================================

-- Deletes rows of p_target ('learning_events' by ts, 'intent_signals' by created_at) older than
-- now() − their retention, oldest first, in batches of gc_batch_size rows (one DELETE each, by
-- primary key), stopping after a short batch or gc_max_batches batches: one call deletes at most
-- gc_batch_size × gc_max_batches rows (100,000 by default), so its transaction, its WAL and its
-- row locks stay bounded; a backlog larger than that goes on the next call. Rows another
-- transaction has locked are skipped, never waited for. Only row locks are taken. Each call
-- writes one ledger row (action learning.gc_<target>: retention, cutoff and bound before,
-- removed and batches after); its actor is pg_cron when the scheduler runs it. Returns the
-- number of rows deleted. Invoker rights: the caller needs DELETE on the table.
create function ops.learning_gc(p_target text)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_column text;
  v_retention interval;
  v_batch int;
  v_max_batches int;
  v_cutoff timestamptz;
  v_deleted int;
  v_batches int := 0;
  v_total bigint := 0;
begin
  -- GUARD: the target names the table, its time column and its retention setting.
  select case p_target when 'learning_events' then 'ts' when 'intent_signals' then 'created_at' end,
         case p_target when 'learning_events' then s.events_retention
                       when 'intent_signals' then s.signals_retention end,
         s.gc_batch_size, s.gc_max_batches
    into v_column, v_retention, v_batch, v_max_batches
  from ops.learning_settings s;
  if v_column is null then
    raise exception 'p_target must be learning_events or intent_signals' using errcode = '22023';
  end if;
  v_cutoff := pg_catalog.now() - v_retention;

  loop
    execute pg_catalog.format(
      'delete from public.%1$I t where t.id in (
         select o.id from public.%1$I o where o.%2$I < $1 order by o.%2$I limit $2
         for update skip locked)', p_target, v_column)
      using v_cutoff, v_batch;
    get diagnostics v_deleted = row_count;
    v_total := v_total + v_deleted;
    v_batches := v_batches + 1;
    exit when v_deleted < v_batch or v_batches >= v_max_batches;
  end loop;

  perform public.record_ai_action(
    p_action => 'learning.gc_' || p_target,
    p_target => 'public.' || p_target,
    p_before => pg_catalog.jsonb_build_object(
      'retention', v_retention::text, 'cutoff', v_cutoff,
      'batch_size', v_batch, 'max_batches', v_max_batches),
    p_after => pg_catalog.jsonb_build_object('removed', v_total, 'batches', v_batches));
  return v_total;
end
$$;
revoke all on function ops.learning_gc(text) from public;
grant execute on function ops.learning_gc(text) to service_role;


-- =============================================================================================
-- The public GC functions (the runbook's names) and their schedules
-- =============================================================================================

-- Deletes learning_events rows older than events_retention (default 90 days); see
-- ops.learning_gc for the batch bound and the ledger row. service_role (ops tools) and the owner
-- (pg_cron, the runbook).
create function public.gc_learning_events()
returns bigint
language sql
volatile
set search_path = ''
as $$
  select ops.learning_gc('learning_events')
$$;
revoke all on function public.gc_learning_events() from public;
grant execute on function public.gc_learning_events() to service_role;

-- Deletes intent_signals rows older than signals_retention (default 30 days); see
-- ops.learning_gc. Signals are raw evidence: user_features keeps what the ranker needs of
-- them (the last 30 days, which is also why the default retention is 30 days).
create function public.gc_intent_signals()
returns bigint
language sql
volatile
set search_path = ''
as $$
  select ops.learning_gc('intent_signals')
$$;
revoke all on function public.gc_intent_signals() from public;
grant execute on function public.gc_intent_signals() to service_role;

-- Daily at 02:00 and 03:00 UTC, an hour apart so the two deletes never compete. The commands
-- run as the owner (postgres); scheduling by name updates a job in place, so re-applying is
-- harmless.
select cron.schedule('learning-events-gc', '0 2 * * *', 'select public.gc_learning_events()');
select cron.schedule('intent-signals-gc', '0 3 * * *', 'select public.gc_intent_signals()');
