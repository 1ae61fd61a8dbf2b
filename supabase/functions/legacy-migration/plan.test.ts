// planMigration and the preflight helpers: what moves where, and every problem named.
import assert from 'node:assert/strict'
import {
  ASSETS_BUCKET,
  legacyFolders,
  legacyPathProblem,
  type LegacyRows,
  missingObjectProblems,
  planMigration,
} from './plan.ts'

const USER = 'ca5f0000-0000-4000-8000-00000000000f'
const P1 = '10000000-0000-4000-8000-000000000001'
const I1 = '20000000-0000-4000-8000-000000000001'
const I2 = '20000000-0000-4000-8000-000000000002'

function sequentialIds() {
  let n = 0
  return () => `a0000000-0000-4000-8000-${String(++n).padStart(12, '0')}`
}

const rows = (overrides: Partial<LegacyRows> = {}): LegacyRows => ({
  portfolios: [{
    id: P1,
    user_id: USER,
    title: ' Coastal light ',
    description: 'Harbour mornings',
    hero_image_path: `${USER}/hero.png`,
    created_at: '2024-03-01T09:00:00+00:00',
  }],
  items: [
    {
      id: I1,
      portfolio_id: P1,
      user_id: USER,
      title: 'Breakwater',
      description: null,
      image_path: `${USER}/sub/one.jpg`,
      position: 0,
      created_at: '2024-03-02T06:10:00+00:00',
    },
    {
      id: I2,
      portfolio_id: P1,
      user_id: USER,
      title: 'Notes',
      description: 'No image',
      image_path: null,
      position: 1,
      created_at: '2024-03-03T06:10:00+00:00',
    },
  ],
  ...overrides,
})

Deno.test('a portfolio and its items become activities, their images assets under new ids', () => {
  const { plan, problems } = planMigration(USER, rows(), sequentialIds())
  assert.deepEqual(problems, [])
  assert.ok(plan)
  assert.deepEqual(plan.activities.map((a) => [a.id.slice(-1), a.kind, a.title, a.legacy_id]), [
    ['1', 'portfolio', 'Coastal light', P1],
    ['2', 'portfolio_item', 'Breakwater', I1],
    ['3', 'portfolio_item', 'Notes', I2],
  ])
  assert.equal(plan.activities[0].body, 'Harbour mornings')
  assert.equal(plan.activities[1].occurred_at, '2024-03-02T06:10:00+00:00')
  const [a1, a2] = plan.activities
  assert.deepEqual(plan.assets, [
    {
      activity_id: a1.id,
      bucket: ASSETS_BUCKET,
      path: `${USER}/${a1.id}/hero.png`,
      kind: 'hero',
      legacy_path: `${USER}/hero.png`,
    },
    {
      activity_id: a2.id,
      bucket: ASSETS_BUCKET,
      path: `${USER}/${a2.id}/one.jpg`,
      kind: 'image',
      legacy_path: `${USER}/sub/one.jpg`,
    },
  ])
  assert.deepEqual(plan.portfolioIds, [P1])
  assert.deepEqual(plan.itemIds, [I1, I2])
  assert.deepEqual(legacyFolders(plan), [USER, `${USER}/sub`])
})

Deno.test('no legacy rows plan nothing and find no problem', () => {
  const { plan, problems } = planMigration(USER, { portfolios: [], items: [] })
  assert.deepEqual(problems, [])
  assert.deepEqual(plan, { activities: [], assets: [], portfolioIds: [], itemIds: [] })
})

Deno.test('every problem is named by table, row and field, all in one pass', () => {
  const base = rows()
  const { plan, problems } = planMigration(USER, {
    portfolios: [{ ...base.portfolios[0], hero_image_path: null, title: '  ' }],
    items: [
      { ...base.items[0], image_path: 'someone-else/x.jpg' },
      { ...base.items[1], portfolio_id: '10000000-0000-4000-8000-000000000009' },
      { ...base.items[1], id: 'i3', image_path: `${USER}/../escape.png`, title: 'x'.repeat(501) },
    ],
  })
  assert.equal(plan, null)
  assert.deepEqual(problems.map((p) => `${p.table}:${p.id}:${p.field}`), [
    `casfolio_portfolios:${P1}:title`,
    `casfolio_portfolios:${P1}:hero_image_path`,
    `casfolio_items:${I1}:image_path`,
    `casfolio_items:${I2}:portfolio_id`,
    'casfolio_items:i3:title',
    'casfolio_items:i3:image_path',
  ])
  assert.match(problems[1].message, /hero image/)
  assert.match(problems[2].message, new RegExp(`owner's folder \\(${USER}/`))
})

Deno.test("legacy paths must be relative, clean and inside the owner's folder", () => {
  assert.equal(legacyPathProblem(`${USER}/a.png`, USER), null)
  assert.equal(legacyPathProblem(`${USER}/deep/er/a.png`, USER), null)
  for (
    const bad of [
      USER,
      `${USER}/`,
      `/${USER}/a.png`,
      `${USER}//a.png`,
      `${USER}/./a.png`,
      `${USER}/../a.png`,
      `other/a.png`,
      `${USER}/${'x'.repeat(1100)}`,
    ]
  ) {
    assert.notEqual(legacyPathProblem(bad, USER), null, bad)
  }
})

Deno.test('missing objects are named with the row that refers to them', () => {
  const { plan } = planMigration(USER, rows(), sequentialIds())
  assert.ok(plan)
  assert.deepEqual(
    missingObjectProblems(plan, new Set([`${USER}/hero.png`, `${USER}/sub/one.jpg`])),
    [],
  )
  const missing = missingObjectProblems(plan, new Set([`${USER}/hero.png`]))
  assert.deepEqual(missing, [{
    table: 'casfolio_items',
    id: I1,
    field: 'image_path',
    message: `names ${USER}/sub/one.jpg, which does not exist in casfolio-legacy`,
  }])
})
