-- Discovery QA data: 6 interests, 6 categories, one interest → category mapping each, one
-- active candidate per category, and the runbook's test user. Deterministic ids so the
-- runbook (docs/discovery.md) and tests can name them. Idempotent: re-applied whenever this
-- file changes, so every insert skips rows that already exist.
--
-- One candidate per category is deliberately below the default gap threshold (3): a
-- rocker-discovery-run over the seed opens a gap for every mapped interest, and suggestions
-- still have something to show.
--
-- Note: inserting the test user fires the auth.users signup trigger (discovery migration), which
-- enqueues one events_queue job, topic 'discovery.user-signup', payload {"user_id": "0…01"}.
-- That is the real signup path; the queue-worker cron job (or the runbook's POST) drains it.
-- A re-applied seed inserts nothing (on conflict do nothing), so no second job.

insert into public.interest_catalog (id, slug, name, description) values
  ('11111111-1111-1111-1111-111111111111', 'hiking', 'Hiking', 'Trails, gear and guided walks'),
  ('22222222-2222-2222-2222-222222222222', 'photography', 'Photography',
   'Cameras, lenses and workshops'),
  ('33333333-3333-3333-3333-333333333333', 'cooking', 'Cooking', 'Recipes, tools and classes'),
  ('44444444-4444-4444-4444-444444444444', 'cycling', 'Cycling', 'Bikes, routes and repairs'),
  ('55555555-5555-5555-5555-555555555555', 'gardening', 'Gardening',
   'Plants, seeds and garden tools'),
  ('66666666-6666-6666-6666-666666666666', 'music', 'Music', 'Instruments, lessons and gigs')
on conflict do nothing;

insert into public.marketplace_categories (id, slug, name) values
  ('c0000000-0000-0000-0000-000000000001', 'outdoor-gear', 'Outdoor gear'),
  ('c0000000-0000-0000-0000-000000000002', 'cameras', 'Cameras and lenses'),
  ('c0000000-0000-0000-0000-000000000003', 'kitchen', 'Kitchen'),
  ('c0000000-0000-0000-0000-000000000004', 'bikes', 'Bikes and parts'),
  ('c0000000-0000-0000-0000-000000000005', 'garden', 'Garden'),
  ('c0000000-0000-0000-0000-000000000006', 'instruments', 'Musical instruments')
on conflict do nothing;

insert into public.marketplace_interest_map (interest_id, category_id) values
  ('11111111-1111-1111-1111-111111111111', 'c0000000-0000-0000-0000-000000000001'),
  ('22222222-2222-2222-2222-222222222222', 'c0000000-0000-0000-0000-000000000002'),
  ('33333333-3333-3333-3333-333333333333', 'c0000000-0000-0000-0000-000000000003'),
  ('44444444-4444-4444-4444-444444444444', 'c0000000-0000-0000-0000-000000000004'),
  ('55555555-5555-5555-5555-555555555555', 'c0000000-0000-0000-0000-000000000005'),
  ('66666666-6666-6666-6666-666666666666', 'c0000000-0000-0000-0000-000000000006')
on conflict do nothing;

insert into public.marketplace_candidates (id, category_id, title, url, popularity, metadata)
values
  ('d0000000-0000-0000-0000-000000000001', 'c0000000-0000-0000-0000-000000000001',
   'Lightweight daypack 20 L', 'https://example.com/market/daypack-20', 0.80,
   '{"price_eur": 59}'),
  ('d0000000-0000-0000-0000-000000000002', 'c0000000-0000-0000-0000-000000000002',
   'Mirrorless camera starter kit', 'https://example.com/market/camera-kit', 0.90,
   '{"price_eur": 649}'),
  ('d0000000-0000-0000-0000-000000000003', 'c0000000-0000-0000-0000-000000000003',
   'Cast-iron skillet 26 cm', 'https://example.com/market/skillet-26', 0.70,
   '{"price_eur": 39}'),
  ('d0000000-0000-0000-0000-000000000004', 'c0000000-0000-0000-0000-000000000004',
   'Gravel bike tune-up', 'https://example.com/market/gravel-tune-up', 0.60,
   '{"price_eur": 79}'),
  ('d0000000-0000-0000-0000-000000000005', 'c0000000-0000-0000-0000-000000000005',
   'Heirloom tomato seed set', 'https://example.com/market/tomato-seeds', 0.50,
   '{"price_eur": 12}'),
  ('d0000000-0000-0000-0000-000000000006', 'c0000000-0000-0000-0000-000000000006',
   'Beginner ukulele lessons', 'https://example.com/market/ukulele-lessons', 0.65,
   '{"price_eur": 25}')
on conflict do nothing;

-- The runbook's test user (docs/discovery.md), shaped like a confirmed email signup.
insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at
) values (
  '00000000-0000-0000-0000-000000000000', '00000000-0000-0000-0000-000000000001',
  'authenticated', 'authenticated', 'discovery-test@example.com', '', now(),
  '{"provider": "email", "providers": ["email"]}', '{"display_name": "Discovery test user"}',
  false, now(), now()
)
on conflict do nothing;
