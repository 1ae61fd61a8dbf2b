// docs/legacy-migration.md's commands, run verbatim against the test stack. The rollback's
// "save the copies" then "put them back" (bash) restore every legacy file a completed run
// removed, byte for byte, at the path its legacy row names (the PITR restore between them
// cannot run locally; without it the rows are simply absent and the upsert creates the
// objects). The post-deploy check (SQL, as pasted into psql) shows what its comments promise.
import assert from 'node:assert/strict'
import { createClient } from '@supabase/supabase-js'
import { ROOT } from '../../../local/paths.ts'
import { LEGACY_BUCKET } from './plan.ts'
import { appFor, env, migrate, withContext } from './test_context.ts'
import { addLegacyPortfolio, objectNames, SAMPLE_PNG } from './testing.ts'

/** The code block that follows `<!-- runbook: <name> -->` in the doc, de-indented. */
async function runbookBlock(name: string): Promise<string> {
  const doc = await Deno.readTextFile(`${ROOT}/docs/legacy-migration.md`)
  const at = doc.indexOf(`<!-- runbook: ${name} -->`)
  assert.notEqual(at, -1, `docs/legacy-migration.md has no runbook block ${name}`)
  const block = /```(?:bash|sql)\n([\s\S]*?)\n\s*```/.exec(doc.slice(at))
  assert.ok(block, `runbook block ${name} has no code`)
  return block[1].split('\n').map((line) => line.replace(/^ {3}/, '')).join('\n')
}

async function bash(script: string, cwd: string): Promise<string> {
  const out = await new Deno.Command('bash', {
    args: ['-euo', 'pipefail', '-c', script],
    cwd,
    env: {
      DB_URL: env.dbUrl,
      SUPABASE_URL: env.apiUrl,
      SERVICE_ROLE_KEY: env.serviceRoleKey,
    },
    stdout: 'piped',
    stderr: 'piped',
  }).output()
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr)
  assert.equal(out.code, 0, text)
  return text
}

Deno.test('the rollback runbook saves the migrated copies and puts the legacy files back', async () => {
  await withContext(async ({ sql, stack, user }) => {
    const alice = await user()
    const seeded = await addLegacyPortfolio(stack, alice, {
      portfolios: 1,
      itemsPerPortfolio: 3,
      imageEvery: 1,
    })
    assert.equal((await migrate(appFor(sql), alice)).status, 200)
    assert.deepEqual(await objectNames(stack, LEGACY_BUCKET, alice), [])

    const dir = await Deno.makeTempDir({ prefix: 'legacy-runbook-' })
    try {
      const saved = await bash(await runbookBlock('save-legacy-copies'), dir)
      assert.doesNotMatch(saved, /not saved/)
      const restored = await bash(await runbookBlock('reupload-legacy-copies'), dir)
      assert.doesNotMatch(restored, /not restored/)
    } finally {
      await Deno.remove(dir, { recursive: true })
    }

    assert.deepEqual(await objectNames(stack, LEGACY_BUCKET, alice), seeded.paths)
    const storage = createClient(env.apiUrl, env.serviceRoleKey, {
      auth: { persistSession: false, autoRefreshToken: false },
    }).storage.from(LEGACY_BUCKET)
    for (const path of seeded.paths) {
      const { data, error } = await storage.download(path)
      assert.equal(error, null)
      assert.deepEqual(new Uint8Array(await data!.arrayBuffer()), SAMPLE_PNG, path)
      const { data: info } = await storage.info(path)
      assert.equal(info?.contentType, 'image/png', `${path} keeps its content type`)
    }
  })
})

Deno.test('the post-deploy check shows no cross-user access, statement by statement', async () => {
  await withContext(async ({ sql, stack, user }) => {
    const alice = await user('alice')
    const bob = await user('bob')
    for (const id of [alice, bob]) {
      await addLegacyPortfolio(stack, id, { portfolios: 1, itemsPerPortfolio: 1, imageEvery: 1 })
      assert.equal((await migrate(appFor(sql), id)).status, 200)
    }
    const script = (await runbookBlock('cross-user-check'))
      .replaceAll('<user A id>', alice)
      .replaceAll('<user B id>', bob)
    // As pasted into psql: statement by statement, going on after the expected error.
    const file = await Deno.makeTempFile({ suffix: '.sql' })
    await Deno.writeTextFile(file, script)
    const out = await new Deno.Command('psql', {
      args: [env.dbUrl, '-X', '-At', '-f', file],
      stdout: 'piped',
      stderr: 'piped',
    }).output().finally(() => Deno.remove(file))
    const stdout = new TextDecoder().decode(out.stdout)
    const stderr = new TextDecoder().decode(out.stderr)
    // The counts of others' rows and objects, then the refused writes, as the comments say.
    const counts = stdout.split('\n').filter((line) => /^\d+$/.test(line))
    assert.deepEqual(counts, ['0', '0', '0'], stdout)
    assert.match(stdout, /^UPDATE 0$/m)
    assert.match(stdout, /^INSERT 0 0$/m)
    assert.match(
      stderr,
      /new row violates row-level security policy for table "activity_assets"/,
    )
    const policies = stdout.split('\n').filter((line) => line.startsWith('activity_assets|'))
    assert.deepEqual(policies.map((line) => line.split('|')[1]), [
      'activity_assets_own',
      'activity_assets_service_all',
    ])
  })
})
