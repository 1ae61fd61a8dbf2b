// actionlint as the test task runs it: the repository's workflows are clean, a broken workflow
// fails naming its file and the finding, and a folder without workflows runs nothing.
import assert from 'node:assert/strict'
import { actionlint, WORKFLOWS_DIR } from './actionlint.ts'

const GOOD = `name: good
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - id: hello
        run: echo hello
      - run: echo "\${{ steps.hello.outcome }}"
`

// Two mistakes actionlint exists for: a job that needs one that does not exist, and an
// expression reading a step id that is not there.
const BROKEN = `name: broken
on: push
jobs:
  deploy:
    needs: [tests]
    runs-on: ubuntu-latest
    steps:
      - id: push
        run: echo push
      - run: echo "\${{ steps.pushh.outcome }}"
`

Deno.test("the repository's workflows pass actionlint", async () => {
  const r = await actionlint()
  assert.ok(r.files.length >= 2, `workflows found: ${r.files.join(', ')}`)
  assert.ok(r.files.every((f) => f.startsWith(`${WORKFLOWS_DIR}/`)))
  assert.deepEqual(r.failedFiles, [], r.output)
})

Deno.test('a broken workflow fails naming its file and each finding; a good one passes', async () => {
  const dir = await Deno.makeTempDir({ prefix: 'actionlint-' })
  try {
    await Deno.writeTextFile(`${dir}/good.yml`, GOOD)
    await Deno.writeTextFile(`${dir}/broken.yaml`, BROKEN)
    const r = await actionlint(dir)
    assert.deepEqual(r.files, [`${dir}/broken.yaml`, `${dir}/good.yml`])
    assert.deepEqual(r.failedFiles, [`${dir}/broken.yaml`])
    assert.match(
      r.output,
      new RegExp(`^${dir}/broken\\.yaml:4:3 job "deploy" needs job "tests"`, 'm'),
    )
    assert.match(r.output, /property "pushh" is not defined/)
    assert.doesNotMatch(r.output, /good\.yml:\d+/)
  } finally {
    await Deno.remove(dir, { recursive: true })
  }
})

Deno.test('a folder without workflows runs nothing and fails nothing', async () => {
  const dir = await Deno.makeTempDir({ prefix: 'actionlint-' })
  try {
    assert.deepEqual(await actionlint(`${dir}/missing`), { files: [], failedFiles: [], output: '' })
    await Deno.writeTextFile(`${dir}/README.md`, 'not a workflow')
    assert.deepEqual((await actionlint(dir)).files, [])
  } finally {
    await Deno.remove(dir, { recursive: true })
  }
})
