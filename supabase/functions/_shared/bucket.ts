// Percentage-rollout bucketing, identical to public.flag_bucket() in SQL: pure and synchronous.
//
// bucket = (first 4 bytes of SHA-256("<seed>:<user id>") as an unsigned big-endian integer)
//          mod 100, plus 1; a user is in a rollout when bucket <= percentage (evaluateFlagValue
// in flags.ts, which every per-user rollout goes through). The seed is the flag's "group" when
// it has one, else its key. supabase/tests/flags/bucket_vectors.tsv pins the results for both
// implementations.

/** Buckets run from 1 to 100, so percentage 0 admits nobody and 100 admits everyone. */
export const BUCKETS = 100

// SHA-256 round constants (FIPS 180-4 §4.2.2).
const K = new Uint32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
])
const H0 = new Uint32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
])

// Scratch space reused across calls: bucketing is on the hot path of flag evaluation, and
// allocating per call costs more than the hash itself. Safe because a call never yields.
const W = new Uint32Array(64)
const STATE = new Uint32Array(8)
let scratch = new Uint8Array(256)
let scratchView = new DataView(scratch.buffer)

/** Runs SHA-256 over scratch[0, length) (which it pads in place), leaving the digest in STATE. */
function digestScratch(length: number): void {
  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian integer.
  const total = Math.ceil((length + 9) / 64) * 64
  if (total > scratch.length) {
    const bigger = new Uint8Array(total * 2)
    bigger.set(scratch.subarray(0, length))
    scratch = bigger
    scratchView = new DataView(scratch.buffer)
  }
  scratch.fill(0, length, total)
  scratch[length] = 0x80
  const bitLength = length * 8
  scratchView.setUint32(total - 8, Math.floor(bitLength / 0x100000000))
  scratchView.setUint32(total - 4, bitLength >>> 0)

  STATE.set(H0)
  for (let offset = 0; offset < total; offset += 64) {
    for (let i = 0; i < 16; i++) W[i] = scratchView.getUint32(offset + i * 4)
    for (let i = 16; i < 64; i++) {
      const w15 = W[i - 15]
      const w2 = W[i - 2]
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3)
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10)
      W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0
    }
    let a = STATE[0], b = STATE[1], c = STATE[2], d = STATE[3]
    let e = STATE[4], f = STATE[5], g = STATE[6], h = STATE[7]
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))
      const ch = (e & f) ^ (~e & g)
      const t1 = (h + S1 + ch + K[i] + W[i]) | 0
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))
      const maj = (a & b) ^ (a & c) ^ (b & c)
      const t2 = (S0 + maj) | 0
      h = g
      g = f
      f = e
      e = (d + t1) | 0
      d = c
      c = b
      b = a
      a = (t1 + t2) | 0
    }
    STATE[0] += a
    STATE[1] += b
    STATE[2] += c
    STATE[3] += d
    STATE[4] += e
    STATE[5] += f
    STATE[6] += g
    STATE[7] += h
  }
}

/**
 * SHA-256 of `bytes`, synchronously. WebCrypto's digest is async only (a promise and several
 * allocations per call), which would cap evaluations far below the 1M/s target.
 */
export function sha256(bytes: Uint8Array): Uint8Array {
  if (bytes.length + 72 > scratch.length) {
    scratch = new Uint8Array(bytes.length + 72)
    scratchView = new DataView(scratch.buffer)
  }
  scratch.set(bytes)
  digestScratch(bytes.length)
  const out = new Uint8Array(32)
  const outView = new DataView(out.buffer)
  for (let i = 0; i < 8; i++) outView.setUint32(i * 4, STATE[i])
  return out
}

const encoder = new TextEncoder()

/**
 * The user's bucket (1-100) for rollout seed `seed`. The user id is lower-cased first: Postgres
 * renders a uuid in lower case, and both sides must hash the same text.
 */
export function bucketOf(seed: string, userId: string): number {
  const text = `${seed}:${userId.toLowerCase()}`
  // UTF-8 needs at most 3 bytes per UTF-16 code unit, plus room for the padding.
  if (text.length * 3 + 72 > scratch.length) {
    scratch = new Uint8Array(text.length * 3 + 72)
    scratchView = new DataView(scratch.buffer)
  }
  const { written } = encoder.encodeInto(text, scratch)
  digestScratch(written)
  // The first 4 digest bytes as an unsigned big-endian integer: STATE[0] (a Uint32Array holds
  // it unsigned, as the SQL side does with bigint arithmetic).
  return (STATE[0] % BUCKETS) + 1
}
