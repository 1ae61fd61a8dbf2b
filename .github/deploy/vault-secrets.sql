-- The Vault secrets the database's scheduled work reads: `project_url` and `service_role_key`,
-- which every pg_cron job that calls an Edge Function over pg_net uses (ops.schedule_function),
-- and `alert_webhook_url`, where the alert evaluator posts state changes (ops.post_alert; left
-- as it is when no URL is given). Each is created, or updated in place so its id and the jobs
-- that read it stay as they are. One transaction: all or nothing.
-- PROJECT_URL=… SERVICE_ROLE_KEY=… [ALERT_WEBHOOK_URL=…] psql "$DB_URL" -f vault-secrets.sql
-- The values come from the environment (\getenv), not psql -v arguments, so the service key
-- never shows in the process list.
\set ON_ERROR_STOP on
\getenv project_url PROJECT_URL
\getenv service_role_key SERVICE_ROLE_KEY
\getenv alert_webhook_url ALERT_WEBHOOK_URL
-- An unset variable stays unset in psql; make it empty so put_secret names what is missing.
\if :{?project_url}
\else
  \set project_url ''
\endif
\if :{?service_role_key}
\else
  \set service_role_key ''
\endif
\if :{?alert_webhook_url}
\else
  \set alert_webhook_url ''
\endif
begin;

-- pg_temp: gone when the session ends, so the deploy leaves no helper behind in the project.
create function pg_temp.put_secret(p_name text, p_value text, p_required boolean)
returns text
language plpgsql
as $$
declare
  secret_id uuid;
begin
  if pg_catalog.btrim(coalesce(p_value, '')) = '' then
    if p_required then
      raise exception 'vault secret % needs a value', p_name using errcode = '22023';
    end if;
    return p_name || ': not given, left as it is';
  end if;
  select s.id into secret_id from vault.secrets s where s.name = p_name;
  if secret_id is null then
    perform vault.create_secret(p_value, p_name);
    return p_name || ': created';
  end if;
  perform vault.update_secret(secret_id, p_value);
  return p_name || ': updated';
end
$$;

select pg_temp.put_secret('project_url', :'project_url', true);
select pg_temp.put_secret('service_role_key', :'service_role_key', true);
select pg_temp.put_secret('alert_webhook_url', :'alert_webhook_url', false);

commit;
