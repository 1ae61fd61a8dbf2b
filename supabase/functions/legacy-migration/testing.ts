// Legacy portfolios for tests and the bench: a user, their casfolio rows and their images in
// the legacy bucket (uploaded through Storage with the service_role key, as an operator or
// `supabase seed buckets` would), a checksum of everything a migration may touch, and cleanup.
import { createClient } from '@supabase/supabase-js'
import type postgres from 'postgres'
import { sha256Hex } from '../../../local/files.ts'
import { ASSETS_BUCKET, LEGACY_BUCKET } from './plan.ts'
import { forEachBounded } from './transfer.ts'

/** The running stack, as tests (testStackEnv) and the bench (BenchContext) both know it. */
export interface FixtureStack {
  apiUrl: string
  serviceRoleKey: string
  /** A superuser connection. */
  admin: postgres.Sql
}

/** A tiny valid PNG from the sample seed: what every fixture image holds. */
export const SAMPLE_PNG = await Deno.readFile(
  new URL(
    '../../seed/casfolio-legacy/ca5f0000-0000-4000-8000-000000000003/garden-year-hero.png',
    import.meta.url,
  ),
)

const serviceStorage = (stack: FixtureStack) =>
  createClient(stack.apiUrl, stack.serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false },
  }).storage

/** A confirmed user; returns their id. */
export async function createUser(stack: FixtureStack, label = 'legacy'): Promise<string> {
  const id = crypto.randomUUID()
  await stack.admin`
    insert into auth.users (id, aud, role, email, email_confirmed_at, created_at, updated_at)
    values (${id}, 'authenticated', 'authenticated', ${`${label}-${id}@example.test`}, now(),
            now(), now())`
  return id
}

export interface PortfolioShape {
  portfolios: number
  itemsPerPortfolio: number
  /** Items with an image: every `imageEvery`-th one (1: all). 0: none. */
  imageEvery: number
}

export interface SeededPortfolio {
  portfolios: number
  items: number
  /** Objects in the legacy bucket: one hero per portfolio plus the item images. */
  images: number
  /** Every legacy object path. */
  paths: string[]
}

/** Inserts the user's legacy rows in two statements and uploads every image they name. */
export async function addLegacyPortfolio(
  stack: FixtureStack,
  userId: string,
  shape: PortfolioShape,
): Promise<SeededPortfolio> {
  const { portfolios, itemsPerPortfolio, imageEvery } = shape
  await stack.admin`
    insert into public.casfolio_portfolios (id, user_id, title, description, hero_image_path,
                                            created_at)
    select md5(${userId} || '-p' || p)::uuid, ${userId}::uuid, 'Portfolio ' || p,
           'About portfolio ' || p, ${userId} || '/p' || p || '-hero.png',
           '2024-01-01'::timestamptz + p * interval '1 day'
    from generate_series(1, ${portfolios}::int) p`
  await stack.admin`
    insert into public.casfolio_items (id, portfolio_id, user_id, title, description, image_path,
                                       position, created_at)
    select md5(${userId} || '-p' || p || '-i' || i)::uuid, md5(${userId} || '-p' || p)::uuid,
           ${userId}::uuid, 'Item ' || p || '.' || i, case when i % 2 = 0 then 'Notes' end,
           case when ${imageEvery}::int > 0 and i % ${Math.max(imageEvery, 1)}::int = 0
                then ${userId} || '/p' || p || '-i' || i || '.png' end,
           i, '2024-01-01'::timestamptz + p * interval '1 day' + i * interval '1 minute'
    from generate_series(1, ${portfolios}::int) p
    cross join generate_series(1, ${itemsPerPortfolio}::int) i`
  const rows = await stack.admin<{ path: string }[]>`
    select hero_image_path as path from public.casfolio_portfolios where user_id = ${userId}
    union all
    select image_path from public.casfolio_items where user_id = ${userId} and image_path is not null
    order by 1`
  const paths = rows.map((r) => r.path)
  const storage = serviceStorage(stack).from(LEGACY_BUCKET)
  await forEachBounded(paths, 8, async (path) => {
    const { error } = await storage.upload(path, SAMPLE_PNG, { contentType: 'image/png' })
    if (error) throw new Error(`uploading ${path}: ${error.message}`)
  })
  return {
    portfolios,
    items: portfolios * itemsPerPortfolio,
    images: paths.length,
    paths,
  }
}

/** Every object name of the user in `bucket`, from the database (any depth). */
export async function objectNames(
  stack: FixtureStack,
  bucket: string,
  userId: string,
): Promise<string[]> {
  const rows = await stack.admin<{ name: string }[]>`
    select name from storage.objects
     where bucket_id = ${bucket} and name like ${userId + '/%'} order by name`
  return rows.map((r) => r.name)
}

/** Removes the user's objects (through Storage) and the user, whose rows cascade. */
export async function removeUser(stack: FixtureStack, userId: string): Promise<void> {
  const storage = serviceStorage(stack)
  for (const bucket of [LEGACY_BUCKET, ASSETS_BUCKET]) {
    const names = await objectNames(stack, bucket, userId)
    for (let i = 0; i < names.length; i += 1000) {
      const { error } = await storage.from(bucket).remove(names.slice(i, i + 1000))
      if (error) throw new Error(`removing ${userId}'s objects: ${error.message}`)
    }
  }
  await stack.admin`delete from auth.users where id = ${userId}`
}

/** The tables a migration may change (user_migrations aside, which logs every run). */
export const CHECKED_TABLES = [
  'public.casfolio_portfolios',
  'public.casfolio_items',
  'public.activities',
  'public.activity_assets',
  'storage.objects',
] as const

/**
 * A checksum per table (rows and their md5 over every column) and one over every file of the
 * two buckets on disk (`objectRoot`: the stack's Storage folder), to compare before and after.
 */
export async function checksum(
  stack: FixtureStack,
  objectRoot: string,
): Promise<Record<string, string>> {
  const sums: Record<string, string> = {}
  for (const table of CHECKED_TABLES) {
    const [row] = await stack.admin.unsafe<{ n: number; md5: string }[]>(
      `select count(*)::int as n, md5(coalesce(string_agg(t::text, E'\\n' order by t::text), ''))
         from ${table} t`,
    )
    sums[table] = `${row.n} rows, md5 ${row.md5}`
  }
  for (const bucket of [LEGACY_BUCKET, ASSETS_BUCKET]) {
    // sha256sum over the sorted file list: names and contents, computed outside the process.
    const out = await new Deno.Command('sh', {
      args: [
        '-c',
        'cd "$1" 2>/dev/null || exit 0; find . -type f -print0 | sort -z | xargs -0 -r sha256sum',
        'sh',
        `${objectRoot}/${bucket}`,
      ],
      stdout: 'piped',
    }).output()
    const listing = new TextDecoder().decode(out.stdout)
    const files = listing === '' ? 0 : listing.trimEnd().split('\n').length
    sums[`disk:${bucket}`] = `${files} files, sha256 ${await sha256Hex(listing)}`
  }
  return sums
}
