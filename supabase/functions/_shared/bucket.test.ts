import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { bucketOf, BUCKETS, sha256 } from './bucket.ts'

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

// Sequential ids: deterministic (a statistical bound checked on fixed inputs cannot flake) and
// as regular as real ids ever get, so any structure the hash fails to mix away shows here.
const N = 20_000
const USERS = Array.from(
  { length: N },
  (_, i) => `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`,
)

/** The bucket computed independently, with node:crypto, from the formula in bucket.ts. */
const reference = (seed: string, user: string) =>
  (createHash('sha256').update(`${seed}:${user.toLowerCase()}`).digest().readUInt32BE(0) % 100) +
  1

Deno.test('a bucket depends only on (seed, user), whatever was bucketed before it', () => {
  // Long and multi-byte seeds make bucketOf grow and reuse its hash buffer between calls.
  const seeds = ['k', 'marketplace.suggest', 'группа-ü', 'x'.repeat(300), 'y'.repeat(5000)]
  const pairs = seeds.flatMap((seed) => USERS.slice(0, 20).map((user) => [seed, user] as const))
  const first = pairs.map(([seed, user]) => bucketOf(seed, user))
  pairs.forEach(([seed, user], i) => {
    assert.equal(first[i], reference(seed, user), `${seed.slice(0, 12)} ${user}`)
  })
  const again = pairs.toReversed().map(([seed, user]) => bucketOf(seed, user)).toReversed()
  assert.deepEqual(again, first)
})

Deno.test('at p % the share of users with bucket <= p is within 4 sigma of p', () => {
  const buckets = USERS.map((u) => bucketOf('marketplace.suggest', u))
  for (const p of [0, 1, 5, 10, 25, 50, 75, 90, 99, 100]) {
    const admitted = buckets.filter((b) => b <= p).length
    const expected = (N * p) / 100
    const sigma = Math.sqrt(N * (p / 100) * (1 - p / 100))
    assert.ok(
      Math.abs(admitted - expected) <= 4 * sigma,
      `${p} %: ${admitted} admitted, expected ${expected} ± ${4 * sigma}`,
    )
  }
})

Deno.test('every bucket is equally likely (chi-square over 100 buckets)', () => {
  const counts = new Array(BUCKETS).fill(0)
  for (const u of USERS) counts[bucketOf('global.safe_mode', u) - 1]++
  const expected = N / BUCKETS
  const chi2 = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0)
  // 99 degrees of freedom: mean 99, sd 14; 160 is beyond the 99.99th percentile (~154).
  assert.ok(chi2 < 160, `chi-square ${chi2.toFixed(1)}`)
})

Deno.test('different seeds place users independently', () => {
  for (const [a, b] of [['global.safe_mode', 'marketplace.suggest'], ['a', 'b']]) {
    const xs = USERS.map((u) => bucketOf(a, u))
    const ys = USERS.map((u) => bucketOf(b, u))
    // Both 10 % rollouts: independent seeds share 1 % of users, one seed would share 10 %.
    const both = xs.filter((x, i) => x <= 10 && ys[i] <= 10).length
    const sigma = Math.sqrt(N * 0.01 * 0.99)
    assert.ok(Math.abs(both - N * 0.01) <= 4 * sigma, `${a}/${b}: ${both} in both`)
    assert.ok(Math.abs(correlation(xs, ys)) <= 4 / Math.sqrt(N), `${a}/${b} correlated`)
  }
})

function correlation(xs: number[], ys: number[]): number {
  const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length
  const mx = mean(xs), my = mean(ys)
  let sxy = 0, sxx = 0, syy = 0
  xs.forEach((x, i) => {
    sxy += (x - mx) * (ys[i] - my)
    sxx += (x - mx) ** 2
    syy += (ys[i] - my) ** 2
  })
  return sxy / Math.sqrt(sxx * syy)
}
