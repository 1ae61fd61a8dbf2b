-- Applied to the throwaway test cluster only, after migrations and seeds.
-- pgTAP lives in `extensions`, which is on the database search_path, as on Supabase.
create extension if not exists pgtap with schema extensions;

-- Tests run each cron job's command directly; the scheduler's minute ticks would otherwise
-- race the assertions (a scheduled queue-worker could drain a queue a test is inspecting).
update cron.job set active = false;
