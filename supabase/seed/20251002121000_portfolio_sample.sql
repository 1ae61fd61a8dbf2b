-- Legacy casfolio QA data for the legacy-migration rollout (docs/legacy-migration.md): three
-- users who can sign in (password `casfolio-demo`), their portfolios and items. Every image
-- path names a file under ./casfolio-legacy/<user_id>/, which config.toml's
-- [storage.buckets.casfolio-legacy] uploads to the legacy bucket (`supabase seed buckets`; the
-- local stack does it on start). Deterministic ids, so the runbook and tests can name them.
-- Idempotent: re-applied whenever this file changes, so every insert skips existing rows.
--
--   ana  ca5f…0001  2 portfolios, 5 items (4 images)
--   ben  ca5f…0002  1 portfolio,  4 items (2 images)
--   cleo ca5f…0003  1 portfolio,  2 items (2 images)
--
-- 4 portfolios, 11 items, 12 images: a full run moves 15 activities and 12 assets.
--
-- Note: inserting a user fires the auth.users signup trigger (discovery migration), which queues
-- one discovery job per new user; a re-applied seed inserts no user, so no second job.

insert into auth.users (
  instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,
  raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at
)
select '00000000-0000-0000-0000-000000000000', u.id, 'authenticated', 'authenticated', u.email,
       extensions.crypt('casfolio-demo', extensions.gen_salt('bf')), '2025-10-02 12:10:00+00',
       '{"provider": "email", "providers": ["email"]}'::jsonb,
       jsonb_build_object('display_name', u.display_name), false,
       '2025-10-02 12:10:00+00', '2025-10-02 12:10:00+00'
from (values
  ('ca5f0000-0000-4000-8000-000000000001'::uuid, 'ana@casfolio.example', 'Ana'),
  ('ca5f0000-0000-4000-8000-000000000002'::uuid, 'ben@casfolio.example', 'Ben'),
  ('ca5f0000-0000-4000-8000-000000000003'::uuid, 'cleo@casfolio.example', 'Cleo')
) as u (id, email, display_name)
on conflict do nothing;

-- The email identity GoTrue keeps for a password user (provider_id is the user's id).
insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)
select u.id::text, u.id,
       jsonb_build_object('sub', u.id::text, 'email', u.email, 'email_verified', true),
       'email', '2025-10-02 12:10:00+00', '2025-10-02 12:10:00+00'
from auth.users u
where u.id in ('ca5f0000-0000-4000-8000-000000000001', 'ca5f0000-0000-4000-8000-000000000002',
               'ca5f0000-0000-4000-8000-000000000003')
on conflict do nothing;

insert into public.casfolio_portfolios (id, user_id, title, description, hero_image_path,
                                        created_at, updated_at) values
  ('ca5f0001-0000-4000-8000-000000000001', 'ca5f0000-0000-4000-8000-000000000001',
   'Coastal light', 'Harbour mornings and long exposures.',
   'ca5f0000-0000-4000-8000-000000000001/coastal-light-hero.png',
   '2024-03-01 09:00:00+00', '2024-03-01 09:00:00+00'),
  ('ca5f0001-0000-4000-8000-000000000002', 'ca5f0000-0000-4000-8000-000000000001',
   'Studio portraits', 'Two-light setups, one backdrop.',
   'ca5f0000-0000-4000-8000-000000000001/studio-portraits-hero.png',
   '2024-06-15 14:30:00+00', '2024-06-15 14:30:00+00'),
  ('ca5f0001-0000-4000-8000-000000000003', 'ca5f0000-0000-4000-8000-000000000002',
   'Urban sketches', 'Ink and wash, one street a week.',
   'ca5f0000-0000-4000-8000-000000000002/urban-sketches-hero.png',
   '2024-01-20 18:00:00+00', '2024-01-20 18:00:00+00'),
  ('ca5f0001-0000-4000-8000-000000000004', 'ca5f0000-0000-4000-8000-000000000003',
   'Garden year', null,
   'ca5f0000-0000-4000-8000-000000000003/garden-year-hero.png',
   '2023-04-02 08:00:00+00', '2023-04-02 08:00:00+00')
on conflict do nothing;

insert into public.casfolio_items (id, portfolio_id, user_id, title, description, image_path,
                                   position, created_at, updated_at) values
  ('ca5f0002-0000-4000-8000-000000000001', 'ca5f0001-0000-4000-8000-000000000001',
   'ca5f0000-0000-4000-8000-000000000001', 'Breakwater at dawn', '30 s at f/11.',
   'ca5f0000-0000-4000-8000-000000000001/coastal-light-1.jpg', 0,
   '2024-03-02 06:10:00+00', '2024-03-02 06:10:00+00'),
  ('ca5f0002-0000-4000-8000-000000000002', 'ca5f0001-0000-4000-8000-000000000001',
   'ca5f0000-0000-4000-8000-000000000001', 'Fog bank', null,
   'ca5f0000-0000-4000-8000-000000000001/coastal-light-2.jpg', 1,
   '2024-03-09 07:45:00+00', '2024-03-09 07:45:00+00'),
  ('ca5f0002-0000-4000-8000-000000000003', 'ca5f0001-0000-4000-8000-000000000001',
   'ca5f0000-0000-4000-8000-000000000001', 'Notes on tides', 'Tide tables for next season.',
   null, 2, '2024-03-10 20:00:00+00', '2024-03-10 20:00:00+00'),
  ('ca5f0002-0000-4000-8000-000000000004', 'ca5f0001-0000-4000-8000-000000000002',
   'ca5f0000-0000-4000-8000-000000000001', 'Rembrandt light', null,
   'ca5f0000-0000-4000-8000-000000000001/studio-portraits-1.jpg', 0,
   '2024-06-16 10:00:00+00', '2024-06-16 10:00:00+00'),
  ('ca5f0002-0000-4000-8000-000000000005', 'ca5f0001-0000-4000-8000-000000000002',
   'ca5f0000-0000-4000-8000-000000000001', 'High key', 'Backdrop two stops over.',
   'ca5f0000-0000-4000-8000-000000000001/studio-portraits-2.jpg', 1,
   '2024-06-20 11:30:00+00', '2024-06-20 11:30:00+00'),
  ('ca5f0002-0000-4000-8000-000000000006', 'ca5f0001-0000-4000-8000-000000000003',
   'ca5f0000-0000-4000-8000-000000000002', 'Market street', null,
   'ca5f0000-0000-4000-8000-000000000002/urban-sketches-1.jpg', 0,
   '2024-01-21 17:00:00+00', '2024-01-21 17:00:00+00'),
  ('ca5f0002-0000-4000-8000-000000000007', 'ca5f0001-0000-4000-8000-000000000003',
   'ca5f0000-0000-4000-8000-000000000002', 'Bridge study', 'Pencil only.', null, 1,
   '2024-01-28 17:00:00+00', '2024-01-28 17:00:00+00'),
  ('ca5f0002-0000-4000-8000-000000000008', 'ca5f0001-0000-4000-8000-000000000003',
   'ca5f0000-0000-4000-8000-000000000002', 'Station roofs', null,
   'ca5f0000-0000-4000-8000-000000000002/urban-sketches-3.jpg', 2,
   '2024-02-04 17:00:00+00', '2024-02-04 17:00:00+00'),
  ('ca5f0002-0000-4000-8000-000000000009', 'ca5f0001-0000-4000-8000-000000000003',
   'ca5f0000-0000-4000-8000-000000000002', 'Palette notes', 'Which greys mix well.', null, 3,
   '2024-02-11 17:00:00+00', '2024-02-11 17:00:00+00'),
  ('ca5f0002-0000-4000-8000-00000000000a', 'ca5f0001-0000-4000-8000-000000000004',
   'ca5f0000-0000-4000-8000-000000000003', 'First tulips', null,
   'ca5f0000-0000-4000-8000-000000000003/garden-year-1.jpg', 0,
   '2023-04-20 08:00:00+00', '2023-04-20 08:00:00+00'),
  ('ca5f0002-0000-4000-8000-00000000000b', 'ca5f0001-0000-4000-8000-000000000004',
   'ca5f0000-0000-4000-8000-000000000003', 'Late figs', 'The tree finally gave.',
   'ca5f0000-0000-4000-8000-000000000003/garden-year-2.jpg', 1,
   '2023-09-14 08:00:00+00', '2023-09-14 08:00:00+00')
on conflict do nothing;
