// Epsilon-greedy v1: builds a slate slot by slot and says, for each slot, how likely the placed
// candidate was, so the decision can be evaluated offline (IPS/SNIPS/DR in public.policy_ope).

/** A candidate with the score the feature store gave it. */
export interface ScoredCandidate {
  id: string
  score: number
}

/** One placed slot, as logged in public.learning_events. */
export interface Slot {
  candidate_id: string
  score: number
  /** Probability that this candidate was the one placed here, given what was left. */
  p_exp: number
  /** True when the placed candidate is not the greedy one. */
  explored: boolean
  /** 0-based. */
  position: number
  /**
   * What offline evaluation needs to replay the slot: candidates left, the greedy one, ε; plus
   * the caller's features of the placed candidate when it sent any.
   */
  context: { k: number; greedy: string; epsilon: number; features?: Record<string, unknown> }
}

/**
 * The greedy order: highest score first, ties broken by id so that the same scores always give
 * the same slate (and the logged `greedy` is reproducible offline).
 */
export function byScore(a: ScoredCandidate, b: ScoredCandidate): number {
  if (a.score !== b.score) return b.score - a.score
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/**
 * Fills up to `limit` slots. At each slot with K candidates left: with probability ε one of the K
 * is drawn uniformly (the greedy one included), otherwise the greedy one is placed. So the greedy
 * candidate is placed with probability 1 − ε + ε/K and each other with ε/K; that is the p_exp
 * logged. `random` returns floats in [0, 1) (Math.random; tests seed their own).
 */
export function epsilonGreedySlate(
  candidates: readonly ScoredCandidate[],
  limit: number,
  epsilon: number,
  random: () => number = Math.random,
): Slot[] {
  if (!(epsilon >= 0 && epsilon <= 1)) throw new RangeError(`epsilon must be in [0, 1]`)
  // Sorted once; a placed candidate is spliced out, so remaining[0] is always the greedy one.
  const remaining = [...candidates].sort(byScore)
  const slots: Slot[] = []
  for (let position = 0; position < limit && remaining.length > 0; position++) {
    const k = remaining.length
    const greedy = remaining[0]
    const index = epsilon > 0 && random() < epsilon ? Math.floor(random() * k) : 0
    const placed = remaining[index]
    remaining.splice(index, 1)
    const explored = index !== 0
    const p_exp = explored ? epsilon / k : 1 - epsilon + epsilon / k
    slots.push({
      candidate_id: placed.id,
      score: placed.score,
      p_exp,
      explored,
      position,
      context: { k, greedy: greedy.id, epsilon },
    })
  }
  return slots
}

/**
 * The safe-mode slate: the fallback candidates in the order given (already deterministic),
 * logged with p_exp 0 so offline evaluation excludes them (nothing was randomised).
 */
export function safeModeSlate(candidates: readonly ScoredCandidate[], limit: number): Slot[] {
  return candidates.slice(0, limit).map((c, position) => ({
    candidate_id: c.id,
    score: c.score,
    p_exp: 0,
    explored: false,
    position,
    context: { k: candidates.length - position, greedy: c.id, epsilon: 0 },
  }))
}
