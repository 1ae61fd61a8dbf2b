-- ops.schedule_function / schedule_queue_topic: idempotent cron jobs whose command reads the
-- URL and key from Vault at run time; the daily maintenance job; the done-row purge.
begin;
select plan(15);

select ok(ops.schedule_function('test-job', '*/5 * * * *', 'queue-worker', '{"topic": "x"}') > 0,
          'schedule_function returns the job id');
select is(ops.schedule_function('test-job', '* * * * *', 'queue-worker', '{"topic": "y"}'),
          (select jobid from cron.job where jobname = 'test-job'),
          'scheduling the same name again updates that job');
select is((select count(*)::int from cron.job where jobname = 'test-job'), 1,
          'there is still one job of that name');
select is((select schedule from cron.job where jobname = 'test-job'), '* * * * *',
          'with the new schedule');
select matches((select command from cron.job where jobname = 'test-job'),
               'net\.http_post\(.*vault\.decrypted_secrets where name = ''project_url''.*/functions/v1/queue-worker.*''Bearer '' \|\| \(select decrypted_secret from vault\.decrypted_secrets\s+where name = ''service_role_key''\).*\{"topic": "y"\}',
               'the command posts the body to the function with the Vault URL and key');
select ok((select command not like '%eyJ%' from cron.job where jobname = 'test-job'),
          'no key is written into the job');
select throws_ok($$ select ops.schedule_function('bad', '* * * * *', 'x''; drop table y; --', '{}') $$,
                 '22023', 'p_function_name must be an Edge Function slug (a-z, 0-9, _ and -)',
                 'a function name that is not a slug is refused');
select ok(ops.unschedule_function('test-job'), 'unschedule_function removes the job');
select ok(not ops.unschedule_function('test-job'), 'and is a no-op the second time');

select ok(ops.schedule_queue_topic('ops.noop', p_batch_limit => 50) > 0, 'schedule_queue_topic schedules');
select is((select substring(command from 'body := ''([^'']*)''') from cron.job
            where jobname = 'queue-worker:ops.noop')::jsonb,
          '{"topic": "ops.noop", "limit": 50, "ttl": 120}'::jsonb,
          'as job queue-worker:<topic> with the worker''s body');
select throws_ok($$ select ops.schedule_queue_topic('ops.noop', p_ttl_seconds => 4) $$, '22023',
                 'p_ttl_seconds must be between 5 and 3600', 'a ttl the worker would refuse is refused');

select is((select row(schedule, command)::text from cron.job where jobname = 'queue-maintenance'),
          row('17 3 * * *', 'call ops.run_queue_maintenance()')::text,
          'the daily maintenance job is scheduled');

-- The purge deletes old done rows only, in bounded batches.
insert into public.events_queue (topic, payload, status, updated_at)
select 't.purge', '{}', s, now() - interval '8 days'
from unnest(array['done', 'done', 'done', 'error', 'queued']) s;
insert into public.events_queue (topic, payload, status) values ('t.purge', '{}', 'done');
select is(ops.purge_done_jobs(interval '7 days', 2), 2, 'one purge batch deletes at most its size');
select is((select array_agg(status order by status) from public.events_queue where topic = 't.purge'),
          array['done', 'done', 'error', 'queued'],
          'only done rows past the retention are purged, oldest first batch');

select * from finish();
rollback;
