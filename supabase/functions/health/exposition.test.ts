import assert from 'node:assert/strict'
import { formatValue, histogramSamples, renderExposition } from './exposition.ts'
import { parseExposition } from './testing.ts'

Deno.test('families render as HELP, TYPE and samples, and read back the same', () => {
  const text = renderExposition([
    {
      name: 'demo_jobs',
      type: 'gauge',
      help: 'Jobs.\nPer queue, with a \\ in it.',
      samples: [
        { labels: { queue: 'a' }, value: 3 },
        { labels: { queue: 'b "quoted"\nnext line \\ slash' }, value: 0.25 },
      ],
    },
    { name: 'demo_empty', type: 'gauge', help: 'No samples yet.', samples: [] },
    { name: 'demo_up', type: 'gauge', help: 'Up.', samples: [{ value: 1 }] },
  ])
  assert.equal(
    text,
    [
      '# HELP demo_jobs Jobs.\\nPer queue, with a \\\\ in it.',
      '# TYPE demo_jobs gauge',
      'demo_jobs{queue="a"} 3',
      'demo_jobs{queue="b \\"quoted\\"\\nnext line \\\\ slash"} 0.25',
      '# HELP demo_empty No samples yet.',
      '# TYPE demo_empty gauge',
      '# HELP demo_up Up.',
      '# TYPE demo_up gauge',
      'demo_up 1',
      '',
    ].join('\n'),
  )
  const parsed = parseExposition(text)
  assert.deepEqual(parsed.get('demo_jobs')?.samples.map((s) => s.labels.queue), [
    'a',
    'b "quoted"\nnext line \\ slash',
  ])
})

Deno.test('a histogram is cumulative buckets, +Inf equal to the count, sum and count', () => {
  const text = renderExposition([{
    name: 'demo_seconds',
    type: 'histogram',
    help: 'Latency.',
    samples: histogramSamples({ path: 'p' }, [0.1, 1], [2, 5], 3.5, 6),
  }])
  assert.deepEqual(text.trim().split('\n').slice(2), [
    'demo_seconds_bucket{path="p",le="0.1"} 2',
    'demo_seconds_bucket{path="p",le="1"} 5',
    'demo_seconds_bucket{path="p",le="+Inf"} 6',
    'demo_seconds_sum{path="p"} 3.5',
    'demo_seconds_count{path="p"} 6',
  ])
  assert.equal(parseExposition(text).get('demo_seconds')?.samples.length, 5)
})

Deno.test('special values are spelled as the format wants', () => {
  assert.deepEqual([Infinity, -Infinity, NaN, 1e-7, 42].map(formatValue), [
    '+Inf',
    '-Inf',
    'NaN',
    '1e-7',
    '42',
  ])
})

Deno.test('names that the format cannot carry are refused before anything is rendered', () => {
  assert.throws(
    () => renderExposition([{ name: 'bad-name', type: 'gauge', help: '', samples: [] }]),
    /invalid metric name/,
  )
  assert.throws(
    () =>
      renderExposition([{
        name: 'ok',
        type: 'gauge',
        help: '',
        samples: [{ labels: { 'bad-label': 'x' }, value: 1 }],
      }]),
    /invalid label name/,
  )
})

Deno.test('the test parser rejects what Prometheus would', () => {
  const bad = [
    'demo 1', // no newline at the end
    'demo 1\n', // no TYPE
    '# TYPE demo gauge\ndemo{a="x} 1\n', // unterminated label value
    '# TYPE demo gauge\ndemo{a="\\x"} 1\n', // invalid escape
    '# TYPE demo gauge\ndemo one\n', // not a number
    '# TYPE demo gauge\ndemo 1\ndemo 2\n', // duplicate series
    '# TYPE demo gauge\n# TYPE other gauge\ndemo 1\n', // outside its family
    '# TYPE demo gauge\ndemo 1\n# TYPE demo counter\n', // TYPE after samples
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 1\nh_count 2\n', // no +Inf
    '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
  ]
  for (const text of bad) assert.throws(() => parseExposition(text), Error, text)
  assert.equal(
    parseExposition('# a comment\n# TYPE demo gauge\ndemo{a="1",} 1 1700000000000\n')
      .get('demo')?.samples[0].value,
    1,
  )
})
