-- The pg_net-compatible surface: http_* queue requests exactly as pg_net would send them, only
-- trusted roles may queue, and Vault round-trips the secrets cron jobs read.
begin;
select plan(26);

-- ---------------------------------------------------------------------------------------------
-- http_post
-- ---------------------------------------------------------------------------------------------
create temp table req on commit drop as
select net.http_post(
  url => 'http://127.0.0.1:54321/functions/v1/queue-worker',
  body => '{"batch": 10, "note": "é"}'::jsonb,
  params => '{"topic": "a b&c"}'::jsonb,
  headers => '{"Authorization": "Bearer test"}'::jsonb
) as post_id;

select is((select method from net.http_request_queue where id = (select post_id from req)), 'POST',
          'http_post queues a POST');
select is((select url from net.http_request_queue where id = (select post_id from req)),
          'http://127.0.0.1:54321/functions/v1/queue-worker?topic=a%20b%26c',
          'http_post appends url-encoded params to the url');
select is((select headers from net.http_request_queue where id = (select post_id from req)),
          '{"Authorization": "Bearer test", "Content-Type": "application/json"}'::jsonb,
          'http_post keeps the given headers and adds the JSON content type');
select is((select convert_from(body, 'UTF8')::jsonb
           from net.http_request_queue where id = (select post_id from req)),
          '{"batch": 10, "note": "é"}'::jsonb,
          'http_post queues the JSON body as UTF-8 bytes');
select is((select timeout_milliseconds from net.http_request_queue
           where id = (select post_id from req)), 5000,
          'http_post defaults the timeout to 5000 ms');

select throws_ok(
  $$ select net.http_post('http://127.0.0.1/x', headers => '{"content-type": "text/plain"}') $$,
  '22023',
  'Content-Type header must be "application/json"',
  'http_post refuses a non-JSON content type, as pg_net does'
);

alter table req add column json_post_id bigint, add column get_id bigint,
  add column delete_id bigint;
update req set json_post_id = net.http_post(
  'http://127.0.0.1/x', headers => '{"content-type": "application/json"}');
select is(
  (select headers from net.http_request_queue where id = (select json_post_id from req)),
  '{"content-type": "application/json"}'::jsonb,
  'http_post accepts a JSON content type in any header case without duplicating it'
);

-- ---------------------------------------------------------------------------------------------
-- http_get / http_delete
-- ---------------------------------------------------------------------------------------------
update req set
  get_id = net.http_get('http://127.0.0.1/health?verbose=1', params => '{"k": "v/w"}',
                        timeout_milliseconds => 1500),
  delete_id = net.http_delete('http://127.0.0.1/items/7', headers => '{"X-Trace": "t1"}');

select is((select method from net.http_request_queue where id = (select get_id from req)), 'GET',
          'http_get queues a GET');
select is((select url from net.http_request_queue where id = (select get_id from req)),
          'http://127.0.0.1/health?verbose=1&k=v%2Fw',
          'http_get adds params with & when the url already has a query');
select ok((select body is null from net.http_request_queue where id = (select get_id from req)),
          'http_get queues no body');
select is((select timeout_milliseconds from net.http_request_queue
           where id = (select get_id from req)), 1500,
          'http_get keeps the given timeout');
select is((select headers from net.http_request_queue where id = (select get_id from req)),
          '{}'::jsonb, 'http_get sends no headers unless given');

select is((select method from net.http_request_queue where id = (select delete_id from req)),
          'DELETE', 'http_delete queues a DELETE');
select is((select url from net.http_request_queue where id = (select delete_id from req)),
          'http://127.0.0.1/items/7', 'http_delete leaves a url without params unchanged');
select is((select headers ->> 'X-Trace' from net.http_request_queue
           where id = (select delete_id from req)), 't1', 'http_delete keeps the given headers');

select ok((select post_id < json_post_id and json_post_id < get_id and get_id < delete_id from req),
          'request ids increase in queueing order');

-- ---------------------------------------------------------------------------------------------
-- Who may queue requests
-- ---------------------------------------------------------------------------------------------
select is(
  array(
    select r.role || ':' || f.fn
    from unnest(array['anon', 'authenticated']) as r(role)
    cross join unnest(array['net.http_get(text,jsonb,jsonb,integer)',
                            'net.http_post(text,jsonb,jsonb,jsonb,integer)',
                            'net.http_delete(text,jsonb,jsonb,integer)']) as f(fn)
    where has_function_privilege(r.role, f.fn, 'EXECUTE')
  ),
  '{}'::text[],
  'anon and authenticated may execute none of the net.http_* functions'
);
select ok(
  has_function_privilege('service_role', 'net.http_post(text,jsonb,jsonb,jsonb,integer)', 'EXECUTE')
    and has_function_privilege('service_role', 'net.http_get(text,jsonb,jsonb,integer)', 'EXECUTE')
    and has_function_privilege('service_role', 'net.http_delete(text,jsonb,jsonb,integer)', 'EXECUTE'),
  'service_role may execute the net.http_* functions'
);

select from tests.create_supabase_user('net_user');
select tests.authenticate_as('net_user');
select throws_ok($$ select net.http_post('http://127.0.0.1/x') $$, '42501', null,
                 'an authenticated user cannot queue a request');
select tests.authenticate_as_anon();
select throws_ok($$ select net.http_get('http://127.0.0.1/x') $$, '42501', null,
                 'anon cannot queue a request');
select tests.authenticate_as_service_role();
select lives_ok($$ select net.http_post('http://127.0.0.1/x') $$,
                'service_role can queue a request without rights on the queue table');
select throws_ok($$ select * from net.http_request_queue $$, '42501', null,
                 'service_role cannot read the queue table directly');
select tests.clear_authentication();

-- ---------------------------------------------------------------------------------------------
-- Vault
-- ---------------------------------------------------------------------------------------------
alter table req add column secret_id uuid;
update req set secret_id = vault.create_secret('s3cr3t-value', 'net_test_secret', 'for the test');

select is((select decrypted_secret from vault.decrypted_secrets where name = 'net_test_secret'),
          's3cr3t-value', 'a created secret reads back from vault.decrypted_secrets');
select is((select id from vault.decrypted_secrets where name = 'net_test_secret'),
          (select secret_id from req), 'create_secret returns the id of the stored secret');

select from vault.update_secret((select secret_id from req), 'rotated-value');
select is((select decrypted_secret || '|' || name || '|' || description
           from vault.decrypted_secrets where id = (select secret_id from req)),
          'rotated-value|net_test_secret|for the test',
          'update_secret replaces the value and keeps the other fields');

select is(
  array(
    select r.role
    from unnest(array['anon', 'authenticated', 'service_role']) as r(role)
    where has_table_privilege(r.role, 'vault.decrypted_secrets', 'SELECT')
       or has_table_privilege(r.role, 'vault.secrets', 'SELECT')
       or has_function_privilege(r.role, 'vault.create_secret(text,text,text,uuid)', 'EXECUTE')
  ),
  '{}'::text[],
  'no API role may read or create vault secrets'
);

select * from finish();
rollback;
