import assert from 'node:assert/strict'
import { EnvError } from '../_shared/settings.ts'
import { DEFAULT_GAP_THRESHOLD, parseDiscoveryConfig } from './config.ts'

Deno.test('the gap threshold defaults to 3 when unset or empty', () => {
  assert.equal(DEFAULT_GAP_THRESHOLD, 3)
  assert.deepEqual(parseDiscoveryConfig({}), { gapThreshold: 3 })
  assert.deepEqual(parseDiscoveryConfig({ DISCOVERY_GAP_THRESHOLD: '' }), { gapThreshold: 3 })
})

Deno.test('DISCOVERY_GAP_THRESHOLD is read as an integer', () => {
  assert.deepEqual(parseDiscoveryConfig({ DISCOVERY_GAP_THRESHOLD: '5' }), { gapThreshold: 5 })
})

Deno.test('a bad DISCOVERY_GAP_THRESHOLD fails naming the variable', () => {
  for (const value of ['0', '1001', '2.5', 'three']) {
    assert.throws(
      () => parseDiscoveryConfig({ DISCOVERY_GAP_THRESHOLD: value }),
      (err: unknown) =>
        err instanceof EnvError && err.issues[0].variable === 'DISCOVERY_GAP_THRESHOLD',
      value,
    )
  }
})
