import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { bucketOf, inRollout, sha256 } from './bucket.ts'

const hex = (bytes: Uint8Array) =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
const utf8 = (s: string) => new TextEncoder().encode(s)

Deno.test('sha256 matches the FIPS 180-4 examples', () => {
  assert.equal(
    hex(sha256(utf8(''))),
    'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  )
  assert.equal(
    hex(sha256(utf8('abc'))),
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
  )
  assert.equal(
    hex(sha256(utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
    '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
  )
})

Deno.test('sha256 matches node:crypto for every length across the block boundaries', () => {
  for (let n = 0; n <= 200; n++) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 31 + n) & 0xff)
    assert.equal(hex(sha256(bytes)), createHash('sha256').update(bytes).digest('hex'), `len ${n}`)
  }
})

Deno.test('bucketOf is 1..100 and ignores the case of the user id', () => {
  const id = '123E4567-E89B-12D3-A456-426614174000'
  assert.equal(bucketOf('k', id), bucketOf('k', id.toLowerCase()))
  for (let i = 0; i < 1000; i++) {
    const b = bucketOf('k', crypto.randomUUID())
    assert.ok(Number.isInteger(b) && b >= 1 && b <= 100, `bucket ${b}`)
  }
})

Deno.test('the bucket is the first 4 digest bytes, unsigned big-endian, mod 100, plus 1', () => {
  // Computed independently with node:crypto (and Python's hashlib when the vectors were made).
  for (const [seed, user] of [['global.safe_mode', '00000000-0000-0000-0000-000000000001']]) {
    const digest = createHash('sha256').update(`${seed}:${user}`).digest()
    assert.equal(bucketOf(seed, user), (digest.readUInt32BE(0) % 100) + 1)
    assert.equal(bucketOf(seed, user), 81)
  }
})

Deno.test('raising a percentage never removes a user who was in', () => {
  const users = Array.from({ length: 500 }, () => crypto.randomUUID())
  for (let p = 0; p < 100; p++) {
    for (const u of users) {
      if (inRollout('marketplace.suggest', u, p)) {
        assert.ok(inRollout('marketplace.suggest', u, p + 1), `user ${u} left at ${p + 1}`)
      }
    }
  }
  assert.equal(users.filter((u) => inRollout('x', u, 0)).length, 0, '0 % admits nobody')
  assert.equal(users.filter((u) => inRollout('x', u, 100)).length, users.length, '100 % admits all')
})
