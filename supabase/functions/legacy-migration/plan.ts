// What a migration will do, decided before it touches anything: the caller's legacy rows are
// checked (every problem named, so one preflight lists them all) and turned into the new
// activities and assets, each asset with the legacy object it copies from and the path it
// copies to. Pure: the ids come from `newId`, so tests can predict them.

/** The legacy buckets and the new one (the storage migration creates both, private). */
export const LEGACY_BUCKET = 'casfolio-legacy'
export const ASSETS_BUCKET = 'activity-assets'

/** Activity kinds a migration writes, mirroring the SQL contract. */
export const ActivityKind = { portfolio: 'portfolio', item: 'portfolio_item' } as const
export type ActivityKind = typeof ActivityKind[keyof typeof ActivityKind]

/** Asset kinds, mirroring activity_assets' check constraint. */
export const AssetKind = { hero: 'hero', image: 'image' } as const
export type AssetKind = typeof AssetKind[keyof typeof AssetKind]

/** A casfolio_portfolios row as legacy_portfolio_rows() answers it. */
export interface LegacyPortfolio {
  id: string
  user_id: string
  title: string
  description: string | null
  hero_image_path: string | null
  created_at: string
}

/** A casfolio_items row as legacy_portfolio_rows() answers it. */
export interface LegacyItem {
  id: string
  portfolio_id: string
  user_id: string
  title: string
  description: string | null
  image_path: string | null
  position: number
  created_at: string
}

export interface LegacyRows {
  portfolios: LegacyPortfolio[]
  items: LegacyItem[]
}

/** A new public.activities row (the owner is the caller, set by the SQL). */
export interface PlannedActivity {
  id: string
  kind: ActivityKind
  title: string
  body: string | null
  occurred_at: string
  legacy_id: string
}

/** A new public.activity_assets row, and the object copy that backs it. */
export interface PlannedAsset {
  activity_id: string
  bucket: string
  path: string
  kind: AssetKind
  legacy_path: string
}

export interface MigrationPlan {
  activities: PlannedActivity[]
  assets: PlannedAsset[]
  portfolioIds: string[]
  itemIds: string[]
}

/** One reason a legacy row cannot move, naming the row and the field. */
export interface PlanProblem {
  table: 'casfolio_portfolios' | 'casfolio_items'
  id: string
  field: string
  message: string
}

// activities.title's check constraint: 1–500 characters once trimmed.
const MAX_TITLE = 500
// Storage's own limit on an object name.
const MAX_PATH = 1024

/** Why `path` cannot be a legacy object of `userId`, or null when it can. */
export function legacyPathProblem(path: string, userId: string): string | null {
  if (path.length > MAX_PATH) return `must be at most ${MAX_PATH} characters`
  const segments = path.split('/')
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    return 'must be a relative path without empty, "." or ".." segments'
  }
  if (segments.length < 2 || segments[0] !== userId) {
    return `must lie in the owner's folder (${userId}/…)`
  }
  return null
}

const fileName = (path: string) => path.slice(path.lastIndexOf('/') + 1)

/**
 * Checks the caller's rows and plans the move. Returns the plan, or every problem found (an
 * empty list of rows plans nothing and has no problem).
 */
export function planMigration(
  userId: string,
  rows: LegacyRows,
  newId: () => string = () => crypto.randomUUID(),
): { plan: MigrationPlan; problems: [] } | { plan: null; problems: PlanProblem[] } {
  const problems: PlanProblem[] = []
  const plan: MigrationPlan = { activities: [], assets: [], portfolioIds: [], itemIds: [] }
  const portfolioIds = new Set(rows.portfolios.map((p) => p.id))

  const checkTitle = (table: PlanProblem['table'], id: string, title: string) => {
    const length = title.trim().length
    if (length === 0) problems.push({ table, id, field: 'title', message: 'must not be blank' })
    else if (length > MAX_TITLE) {
      problems.push({
        table,
        id,
        field: 'title',
        message: `must be at most ${MAX_TITLE} characters`,
      })
    }
  }
  /** Plans the activity of one legacy row (and its image, if any); answers its new id. */
  const addActivity = (
    kind: ActivityKind,
    row: { id: string; title: string; created_at: string },
    body: string | null,
    image: { kind: AssetKind; path: string | null },
  ) => {
    const id = newId()
    plan.activities.push({
      id,
      kind,
      title: row.title.trim(),
      body,
      occurred_at: row.created_at,
      legacy_id: row.id,
    })
    if (image.path !== null) addAsset(id, image.kind, image.path)
  }
  const addAsset = (activityId: string, kind: AssetKind, legacyPath: string) => {
    plan.assets.push({
      activity_id: activityId,
      bucket: ASSETS_BUCKET,
      path: `${userId}/${activityId}/${fileName(legacyPath)}`,
      kind,
      legacy_path: legacyPath,
    })
  }

  for (const p of rows.portfolios) {
    const table = 'casfolio_portfolios'
    checkTitle(table, p.id, p.title)
    const pathProblem = p.hero_image_path === null
      ? 'is missing: a portfolio needs its hero image'
      : legacyPathProblem(p.hero_image_path, userId)
    if (pathProblem) {
      problems.push({ table, id: p.id, field: 'hero_image_path', message: pathProblem })
    }
    plan.portfolioIds.push(p.id)
    addActivity(ActivityKind.portfolio, p, p.description, {
      kind: AssetKind.hero,
      path: p.hero_image_path,
    })
  }

  for (const item of rows.items) {
    const table = 'casfolio_items'
    checkTitle(table, item.id, item.title)
    if (!portfolioIds.has(item.portfolio_id)) {
      problems.push({
        table,
        id: item.id,
        field: 'portfolio_id',
        message: "must be one of the owner's portfolios",
      })
    }
    const pathProblem = item.image_path === null ? null : legacyPathProblem(item.image_path, userId)
    if (pathProblem) {
      problems.push({ table, id: item.id, field: 'image_path', message: pathProblem })
    }
    plan.itemIds.push(item.id)
    addActivity(ActivityKind.item, item, item.description, {
      kind: AssetKind.image,
      path: item.image_path,
    })
  }

  return problems.length ? { plan: null, problems } : { plan, problems: [] }
}

/** The problems for planned assets whose legacy object is not among `existing` names. */
export function missingObjectProblems(
  plan: MigrationPlan,
  existing: ReadonlySet<string>,
): PlanProblem[] {
  const problems: PlanProblem[] = []
  const legacyOf = new Map(plan.activities.map((a) => [a.id, a]))
  for (const asset of plan.assets) {
    if (existing.has(asset.legacy_path)) continue
    const activity = legacyOf.get(asset.activity_id)!
    const portfolio = activity.kind === ActivityKind.portfolio
    problems.push({
      table: portfolio ? 'casfolio_portfolios' : 'casfolio_items',
      id: activity.legacy_id,
      field: portfolio ? 'hero_image_path' : 'image_path',
      message: `names ${asset.legacy_path}, which does not exist in ${LEGACY_BUCKET}`,
    })
  }
  return problems
}

/** The folders holding the plan's legacy objects, each listed once by the preflight. */
export function legacyFolders(plan: MigrationPlan): string[] {
  return [
    ...new Set(plan.assets.map((a) => a.legacy_path.slice(0, a.legacy_path.lastIndexOf('/')))),
  ]
    .sort()
}
