-- Flags: authenticated reads, only service_role (and the owner) writes; who may execute the
-- flag functions.
begin;
select plan(12);

select tests.create_supabase_user('reader');
-- How many flags exist, counted as the owner (later migrations add flags of their own).
create temporary table all_flags on commit drop as select count(*) as n from public.feature_flags;
grant select on all_flags to authenticated;

select tests.authenticate_as('reader');
select is((select count(*) from public.feature_flags), (select n from all_flags),
          'a signed-in user reads every flag');
select throws_ok(
  $$ insert into public.feature_flags (key, value) values ('x.y', '{}') $$,
  '42501', 'permission denied for table feature_flags', 'a signed-in user cannot insert');
select throws_ok(
  $$ delete from public.feature_flags $$,
  '42501', 'permission denied for table feature_flags', 'a signed-in user cannot delete');
select ok(public.flag_enabled('marketplace.suggest', auth.uid()),
          'a signed-in user may call flag_enabled');

select tests.authenticate_as_anon();
select throws_ok(
  $$ select count(*) from public.feature_flags $$,
  '42501', 'permission denied for table feature_flags', 'anon cannot read flags');
select throws_ok(
  $$ select public.flag_enabled('marketplace.suggest') $$,
  '42501', 'permission denied for function flag_enabled', 'anon cannot call flag_enabled');

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.feature_flags (key, value) values ('svc.flag', '{"enabled": true}');
     update public.feature_flags set value = '{"enabled": false}' where key = 'svc.flag';
     delete from public.feature_flags where key = 'svc.flag' $$,
  'service_role inserts, updates and deletes flags');
select tests.clear_authentication();

select tests.rls_enabled('public');
select policies_are('public', 'feature_flags',
                    array['feature_flags_authenticated_read', 'feature_flags_service_all'],
                    'feature_flags has exactly its two policies');
select policies_are('public', 'ai_action_ledger', array['ai_action_ledger_service_read'],
                    'ai_action_ledger has only the service_role read policy');

select is(
  array(select r || ':' || f
        from unnest(array['anon', 'authenticated', 'service_role']) r
        cross join unnest(array['public.flag_enabled(text, uuid)',
                                'public.flag_bucket(text, uuid)',
                                'public.validate_feature_flag(text, jsonb)']) f
        where has_function_privilege(r, f, 'EXECUTE')
        order by 1),
  array['authenticated:public.flag_bucket(text, uuid)',
        'authenticated:public.flag_enabled(text, uuid)',
        'authenticated:public.validate_feature_flag(text, jsonb)',
        'service_role:public.flag_bucket(text, uuid)',
        'service_role:public.flag_enabled(text, uuid)',
        'service_role:public.validate_feature_flag(text, jsonb)'],
  'flag functions: authenticated and service_role execute, anon does not'
);
select ok(
  not has_function_privilege('authenticated', 'ops.ledger_actor()', 'EXECUTE')
    and not has_function_privilege('anon', 'ops.ledger_actor()', 'EXECUTE'),
  'the ledger internals in ops are not callable by clients'
);

select * from finish();
rollback;
