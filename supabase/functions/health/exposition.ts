// Prometheus text exposition format (version 0.0.4): metric families with HELP and TYPE lines,
// samples with escaped label values. Pure: the metrics route collects, this renders.

export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export type MetricType = 'gauge' | 'counter' | 'histogram'

export type Labels = Readonly<Record<string, string>>

/** One sample line. `suffix` is appended to the family name (`_bucket`, `_sum`, `_count`). */
export interface Sample {
  suffix?: string
  labels?: Labels
  value: number
}

export interface MetricFamily {
  name: string
  type: MetricType
  help: string
  samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

// The format's own escapes: backslash and newline everywhere, and the double quote inside a
// label value. A value from the database (a topic, a flag key, an alert rule) cannot break a line.
const escapeHelp = (text: string) => text.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')
const escapeLabelValue = (text: string) =>
  text.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n')

/** A sample value as the format spells it (Go's ParseFloat syntax, with +Inf, -Inf and NaN). */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

function formatLabels(labels: Labels | undefined): string {
  if (labels === undefined) return ''
  const parts: string[] = []
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      throw new Error(`invalid label name ${JSON.stringify(name)}`)
    }
    parts.push(`${name}="${escapeLabelValue(value)}"`)
  }
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

/** Renders families in order; a family without samples still declares itself. */
export function renderExposition(families: readonly MetricFamily[]): string {
  const lines: string[] = []
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) {
      throw new Error(`invalid metric name ${JSON.stringify(family.name)}`)
    }
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`)
    lines.push(`# TYPE ${family.name} ${family.type}`)
    for (const sample of family.samples) {
      lines.push(
        `${family.name}${sample.suffix ?? ''}${formatLabels(sample.labels)} ${
          formatValue(sample.value)
        }`,
      )
    }
  }
  // The format requires the last line to end with a newline.
  return lines.join('\n') + '\n'
}

/**
 * The samples of one histogram series: cumulative `_bucket` counts per upper bound (`le`), the
 * `+Inf` bucket (equal to the count), `_sum` and `_count`. `cumulative[i]` counts observations
 * ≤ `bounds[i]`.
 */
export function histogramSamples(
  labels: Labels,
  bounds: readonly number[],
  cumulative: readonly number[],
  sum: number,
  count: number,
): Sample[] {
  const samples: Sample[] = bounds.map((le, i) => ({
    suffix: '_bucket',
    labels: { ...labels, le: formatValue(le) },
    value: cumulative[i],
  }))
  samples.push({ suffix: '_bucket', labels: { ...labels, le: '+Inf' }, value: count })
  samples.push({ suffix: '_sum', labels, value: sum })
  samples.push({ suffix: '_count', labels, value: count })
  return samples
}
