import assert from 'node:assert/strict'
import { epsilonGreedySlate, safeModeSlate, type ScoredCandidate } from './slate.ts'
import { seededRandom } from './testing.ts'

const candidates: ScoredCandidate[] = [
  { id: 'c', score: 0.3 },
  { id: 'a', score: 0.9 },
  { id: 'b', score: 0.5 },
  { id: 'd', score: 0.5 },
]

Deno.test('with epsilon 0 the slate is the greedy order, ties broken by id, each p_exp 1', () => {
  const slate = epsilonGreedySlate(candidates, 10, 0)
  assert.deepEqual(slate.map((s) => s.candidate_id), ['a', 'b', 'd', 'c'])
  assert.deepEqual(slate.map((s) => s.p_exp), [1, 1, 1, 1])
  assert.deepEqual(slate.map((s) => s.position), [0, 1, 2, 3])
  assert.ok(slate.every((s) => !s.explored))
  assert.deepEqual(slate.map((s) => s.context.k), [4, 3, 2, 1])
})

Deno.test("each slot's p_exp is 1 - eps + eps/K for the greedy pick and eps/K otherwise", () => {
  const epsilon = 0.3
  const random = seededRandom(7)
  for (let run = 0; run < 500; run++) {
    const slate = epsilonGreedySlate(candidates, 3, epsilon, random)
    assert.equal(slate.length, 3)
    const placed = new Set<string>()
    for (const slot of slate) {
      const k = slot.context.k
      assert.equal(k, candidates.length - slot.position)
      const greedy = slot.candidate_id === slot.context.greedy
      assert.equal(slot.explored, !greedy)
      const expected = greedy ? 1 - epsilon + epsilon / k : epsilon / k
      assert.ok(Math.abs(slot.p_exp - expected) < 1e-12, `slot ${slot.position}: ${slot.p_exp}`)
      assert.equal(slot.context.epsilon, epsilon)
      assert.ok(!placed.has(slot.candidate_id), 'a candidate is placed at most once')
      placed.add(slot.candidate_id)
    }
  }
})

Deno.test('the greedy candidate of a slot is the best of those not yet placed', () => {
  const random = seededRandom(11)
  for (let run = 0; run < 200; run++) {
    const slate = epsilonGreedySlate(candidates, 4, 0.5, random)
    const left = [...candidates]
    for (const slot of slate) {
      const best = [...left].sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : 1))[0]
      assert.equal(slot.context.greedy, best.id)
      left.splice(left.findIndex((c) => c.id === slot.candidate_id), 1)
    }
  }
})

Deno.test('over 20,000 decisions the exploration rate is within 3 sigma of eps(K-1)/K', () => {
  const epsilon = 0.08
  const pool = Array.from({ length: 10 }, (_, i) => ({ id: `c${i}`, score: i / 10 }))
  const random = seededRandom(42)
  let slots = 0
  let explored = 0
  let expected = 0
  let variance = 0
  for (let d = 0; d < 20_000; d++) {
    for (const slot of epsilonGreedySlate(pool, 5, epsilon, random)) {
      const p = epsilon * (slot.context.k - 1) / slot.context.k
      slots++
      expected += p
      variance += p * (1 - p)
      if (slot.explored) explored++
    }
  }
  const sigma = Math.sqrt(variance)
  assert.ok(
    Math.abs(explored - expected) < 3 * sigma,
    `explored ${explored} of ${slots}, expected ${expected.toFixed(1)} ± ${(3 * sigma).toFixed(1)}`,
  )
})

Deno.test('each candidate is placed first as often as its logged p_exp says', () => {
  // The check that catches a logging bug: empirical frequency of each first pick vs its p_exp.
  const epsilon = 0.4
  const random = seededRandom(3)
  const n = 20_000
  const counts = new Map<string, number>()
  const logged = new Map<string, number>()
  for (let d = 0; d < n; d++) {
    const [first] = epsilonGreedySlate(candidates, 1, epsilon, random)
    counts.set(first.candidate_id, (counts.get(first.candidate_id) ?? 0) + 1)
    logged.set(first.candidate_id, first.p_exp)
  }
  for (const [id, count] of counts) {
    const p = logged.get(id)!
    const sigma = Math.sqrt(n * p * (1 - p))
    assert.ok(Math.abs(count - n * p) < 4 * sigma, `${id}: ${count} vs ${n * p}`)
  }
  assert.equal(counts.size, candidates.length, 'every candidate is explored sometimes')
})

Deno.test('a limit above the candidate count places every candidate once', () => {
  assert.equal(epsilonGreedySlate(candidates, 100, 0.5, seededRandom(1)).length, 4)
  assert.deepEqual(epsilonGreedySlate([], 5, 0.5), [])
})

Deno.test('epsilon outside [0, 1] is refused', () => {
  assert.throws(() => epsilonGreedySlate(candidates, 1, -0.1), RangeError)
  assert.throws(() => epsilonGreedySlate(candidates, 1, 1.5), RangeError)
  assert.throws(() => epsilonGreedySlate(candidates, 1, NaN), RangeError)
})

Deno.test('the safe-mode slate keeps the fallback order and logs p_exp 0, never explored', () => {
  const slate = safeModeSlate(candidates, 3)
  assert.deepEqual(slate.map((s) => s.candidate_id), ['c', 'a', 'b'])
  assert.ok(slate.every((s) => s.p_exp === 0 && !s.explored && s.context.epsilon === 0))
})
