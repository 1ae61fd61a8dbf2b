import assert from 'node:assert/strict'
import { createBatcher } from './batcher.ts'

/** A write that holds each call open until the test releases it, recording the batches. */
function gatedWrite() {
  const batches: number[][] = []
  const gates: (() => void)[] = []
  return {
    batches,
    write: (batch: number[]) => {
      batches.push(batch)
      return new Promise<void>((resolve) => gates.push(resolve))
    },
    /** Lets the oldest open write finish. */
    release: () => gates.shift()?.(),
    /** Resolves once `n` writes have started. */
    async started(n: number) {
      while (batches.length < n) await new Promise((r) => setTimeout(r, 1))
    },
  }
}

const options = { maxBuffer: 100, batchSize: 10, timeoutMs: 5000, label: 'test' }

Deno.test('items pushed in one tick share a write, and items arriving meanwhile form the next', async () => {
  const sink = gatedWrite()
  const batcher = createBatcher({ ...options, write: sink.write })
  for (let i = 0; i < 3; i++) batcher.push(i)
  await sink.started(1)
  for (let i = 3; i < 8; i++) batcher.push(i)
  assert.deepEqual(sink.batches, [[0, 1, 2]], 'one write in flight at a time')
  sink.release()
  await sink.started(2)
  sink.release()
  await batcher.flush()
  assert.deepEqual(sink.batches, [[0, 1, 2], [3, 4, 5, 6, 7]])
  assert.deepEqual({ ...batcher.stats }, { buffered: 0, sent: 8, dropped: 0, failed: 0 })
})

Deno.test('a batch never exceeds batchSize', async () => {
  const batches: number[][] = []
  const batcher = createBatcher({
    ...options,
    write: (batch: number[]) => (batches.push(batch), Promise.resolve()),
  })
  for (let i = 0; i < 25; i++) batcher.push(i)
  await batcher.flush()
  assert.deepEqual(batches.map((b) => b.length), [10, 10, 5])
  assert.deepEqual(batches.flat(), Array.from({ length: 25 }, (_, i) => i))
})

Deno.test('a full buffer drops new items and counts them, while the write in flight is kept', async () => {
  const sink = gatedWrite()
  const batcher = createBatcher({ ...options, maxBuffer: 5, write: sink.write })
  batcher.push(0)
  await sink.started(1)
  const accepted = Array.from({ length: 12 }, (_, i) => batcher.push(i + 1))
  assert.deepEqual(accepted, [...Array(5).fill(true), ...Array(7).fill(false)])
  assert.equal(batcher.stats.dropped, 7)
  assert.equal(batcher.stats.buffered, 5)
  sink.release()
  await sink.started(2)
  sink.release()
  await batcher.flush()
  assert.deepEqual(sink.batches, [[0], [1, 2, 3, 4, 5]])
  assert.equal(batcher.stats.sent, 6)
})

Deno.test('a failing write loses its batch, counted, and the next batch is still written', async () => {
  let calls = 0
  const written: number[][] = []
  const batcher = createBatcher({
    ...options,
    batchSize: 2,
    write: (batch: number[]) => {
      calls++
      if (calls === 1) return Promise.reject(new Error('database is down'))
      written.push(batch)
      return Promise.resolve()
    },
  })
  for (let i = 0; i < 4; i++) assert.equal(batcher.push(i), true)
  await batcher.flush()
  assert.deepEqual(written, [[2, 3]])
  assert.deepEqual({ ...batcher.stats }, { buffered: 0, sent: 2, dropped: 0, failed: 2 })
})

Deno.test('a write that hangs past timeoutMs counts as failed and the drain moves on', async () => {
  const sink = gatedWrite()
  const batcher = createBatcher({ ...options, batchSize: 1, timeoutMs: 30, write: sink.write })
  batcher.push(1)
  batcher.push(2)
  await sink.started(2)
  assert.equal(batcher.stats.failed, 1, 'the first write was given up on')
  sink.release()
  sink.release()
  await batcher.flush()
  assert.equal(batcher.stats.sent, 1)
})

Deno.test('the drain is handed to the scheduler once per drain, and a throwing scheduler is harmless', async () => {
  const scheduled: Promise<unknown>[] = []
  const batcher = createBatcher({
    ...options,
    write: () => Promise.resolve(),
    schedule: (work) => {
      scheduled.push(work)
      throw new Error('no runtime')
    },
  })
  batcher.push(1)
  batcher.push(2)
  assert.equal(scheduled.length, 1)
  await scheduled[0]
  assert.equal(batcher.stats.sent, 2)
  batcher.push(3)
  assert.equal(scheduled.length, 2)
  await batcher.flush()
  assert.equal(batcher.stats.sent, 3)
})

Deno.test('lingerMs holds the first write until items have gathered', async () => {
  const batches: number[][] = []
  const batcher = createBatcher({
    ...options,
    lingerMs: 30,
    write: (batch: number[]) => (batches.push(batch), Promise.resolve()),
  })
  batcher.push(1)
  await new Promise((r) => setTimeout(r, 5))
  batcher.push(2)
  await batcher.flush()
  assert.deepEqual(batches, [[1, 2]])
})
