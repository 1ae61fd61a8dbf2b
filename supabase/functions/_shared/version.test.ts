import assert from 'node:assert/strict'
import config from '../../../deno.json' with { type: 'json' }
import { KERNEL_VERSION } from './version.ts'

Deno.test("KERNEL_VERSION is deno.json's version", () => {
  assert.match(
    config.version,
    /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/,
    'deno.json has a semver version',
  )
  assert.equal(KERNEL_VERSION, config.version)
})
