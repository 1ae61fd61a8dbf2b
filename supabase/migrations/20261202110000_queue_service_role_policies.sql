-- An explicit service_role policy on each queue table. service_role has BYPASSRLS, so this
-- changes no access: anon and authenticated still hold no grant and match no policy, and the
-- workers and ops functions (owner or service_role) see every row as before. It puts in
-- pg_policies what the Day-0 runbook's RLS check reads ("policies for each table", with
-- marketplace_discovery_queue among them), and records in the catalog who the queues are for,
-- as learning_events_service_all does for learning_events. The queue migration's "no
-- policies" note predates this file.
create policy events_queue_service_all on public.events_queue
  for all to service_role using (true) with check (true);

create policy marketplace_discovery_queue_service_all on public.marketplace_discovery_queue
  for all to service_role using (true) with check (true);
