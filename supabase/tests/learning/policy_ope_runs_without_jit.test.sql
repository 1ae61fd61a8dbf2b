-- policy_ope pins jit = off (JIT cost more than it saved over 1,000,000 slots), alongside the
-- empty search_path every function pins.
begin;
select plan(1);

select ok(
  (select p.proconfig @> array['jit=off', 'search_path=""']
   from pg_catalog.pg_proc p
   where p.oid = 'public.policy_ope(text, timestamptz, real)'::regprocedure),
  'policy_ope runs with jit off and an empty search_path');

select * from finish();
rollback;
