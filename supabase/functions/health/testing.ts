// A strict reader of the Prometheus text format (0.0.4) for tests: it throws on the first line
// that is not valid exposition format, or on a family that breaks the format's rules (samples
// before their TYPE, families interleaved, duplicate series, histograms that are not cumulative
// or lack +Inf), and returns the families it read.

export interface ParsedSample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface ParsedFamily {
  name: string
  type: string
  help?: string
  samples: ParsedSample[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/
const FLOAT = /^(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN)$/
const TIMESTAMP = /^-?[0-9]+$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

function parseValue(text: string, line: number): number {
  if (!FLOAT.test(text)) throw new Error(`line ${line}: invalid value ${JSON.stringify(text)}`)
  if (text.endsWith('Inf')) return text.startsWith('-') ? -Infinity : Infinity
  return text === 'NaN' ? NaN : Number(text)
}

/** Reads `{name="value",…}` from the start of `rest`; returns the labels and what follows. */
function parseLabels(rest: string, line: number): [Record<string, string>, string] {
  const labels: Record<string, string> = {}
  let i = 1 // past '{'
  for (;;) {
    if (rest[i] === '}') return [labels, rest.slice(i + 1)]
    const name = LABEL_NAME.exec(rest.slice(i))?.[0]
    if (!name) {
      throw new Error(`line ${line}: invalid label name at ${JSON.stringify(rest.slice(i))}`)
    }
    i += name.length
    if (rest.slice(i, i + 2) !== '="') throw new Error(`line ${line}: expected =" after ${name}`)
    i += 2
    let value = ''
    for (;;) {
      const ch = rest[i]
      if (ch === undefined) throw new Error(`line ${line}: unterminated label value`)
      if (ch === '"') break
      if (ch === '\\') {
        const next = rest[i + 1]
        if (next === '\\') value += '\\'
        else if (next === '"') value += '"'
        else if (next === 'n') value += '\n'
        else throw new Error(`line ${line}: invalid escape \\${next}`)
        i += 2
      } else {
        value += ch
        i++
      }
    }
    i++ // past the closing quote
    if (name in labels) throw new Error(`line ${line}: label ${name} twice`)
    labels[name] = value
    if (rest[i] === ',') i++
    else if (rest[i] !== '}') throw new Error(`line ${line}: expected , or } after label ${name}`)
  }
}

/** The family a sample name belongs to, given the family's type. */
function familyOf(
  sampleName: string,
  families: Map<string, ParsedFamily>,
): ParsedFamily | undefined {
  const direct = families.get(sampleName)
  if (direct && direct.type !== 'histogram' && direct.type !== 'summary') return direct
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue
    const family = families.get(sampleName.slice(0, -suffix.length))
    if (family?.type === 'histogram') return family
  }
  return undefined
}

export function parseExposition(text: string): Map<string, ParsedFamily> {
  if (!text.endsWith('\n')) throw new Error('the last line must end with a newline')
  const families = new Map<string, ParsedFamily>()
  const finished = new Set<string>()
  const series = new Set<string>()
  let current: string | undefined
  const lines = text.slice(0, -1).split('\n')
  lines.forEach((raw, index) => {
    const line = index + 1
    if (raw === '') throw new Error(`line ${line}: empty line`)
    if (raw.startsWith('#')) {
      const match = /^# (HELP|TYPE) ([^ ]+)(?: (.*))?$/.exec(raw)
      if (!match) return // a plain comment
      const [, kind, name, rest = ''] = match
      if (!NAME.test(name) || NAME.exec(name)![0] !== name) {
        throw new Error(`line ${line}: invalid metric name ${name}`)
      }
      let family = families.get(name)
      if (family === undefined) {
        if (finished.has(name)) throw new Error(`line ${line}: family ${name} resumed`)
        family = { name, type: 'untyped', samples: [] }
        families.set(name, family)
      }
      if (current !== undefined && current !== name) finished.add(current)
      current = name
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`line ${line}: unknown type ${rest}`)
        if (family.samples.length > 0) throw new Error(`line ${line}: TYPE after samples`)
        family.type = rest
      } else {
        if (family.help !== undefined) throw new Error(`line ${line}: second HELP for ${name}`)
        if (/\\[^\\n]/.test(rest.replaceAll('\\\\', ''))) {
          throw new Error(`line ${line}: invalid escape in HELP`)
        }
        family.help = rest
      }
      return
    }
    const name = NAME.exec(raw)?.[0]
    if (!name) throw new Error(`line ${line}: invalid sample ${JSON.stringify(raw)}`)
    let rest = raw.slice(name.length)
    let labels: Record<string, string> = {}
    if (rest.startsWith('{')) [labels, rest] = parseLabels(rest, line)
    const parts = rest.split(' ')
    if (parts[0] !== '' || parts.length < 2 || parts.length > 3) {
      throw new Error(`line ${line}: expected " value [timestamp]" in ${JSON.stringify(raw)}`)
    }
    const value = parseValue(parts[1], line)
    if (parts[2] !== undefined && !TIMESTAMP.test(parts[2])) {
      throw new Error(`line ${line}: invalid timestamp ${parts[2]}`)
    }
    const family = familyOf(name, families)
    if (family === undefined) throw new Error(`line ${line}: sample ${name} has no TYPE`)
    if (family.name !== current) throw new Error(`line ${line}: ${name} outside its family`)
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (series.has(key)) throw new Error(`line ${line}: duplicate series ${key}`)
    series.add(key)
    family.samples.push({ name, labels, value })
  })
  for (const family of families.values()) {
    if (family.type === 'histogram') checkHistogram(family)
  }
  return families
}

/** Each series' buckets rise with `le`, end in +Inf, and +Inf equals its _count. */
function checkHistogram(family: ParsedFamily): void {
  const bySeries = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>()
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    const entry = bySeries.get(key) ?? { buckets: [] }
    bySeries.set(key, entry)
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: bucket without le`)
      entry.buckets.push([parseValue(le, 0), sample.value])
    } else if (sample.name.endsWith('_count')) entry.count = sample.value
    else entry.sum = sample.value
  }
  for (const [key, { buckets, count, sum }] of bySeries) {
    if (count === undefined || sum === undefined) {
      throw new Error(`${family.name}${key}: missing _count or _sum`)
    }
    for (let i = 1; i < buckets.length; i++) {
      if (buckets[i][0] <= buckets[i - 1][0]) throw new Error(`${family.name}${key}: le not rising`)
      if (buckets[i][1] < buckets[i - 1][1]) {
        throw new Error(`${family.name}${key}: buckets not cumulative`)
      }
    }
    const last = buckets.at(-1)
    if (last?.[0] !== Infinity) throw new Error(`${family.name}${key}: no +Inf bucket`)
    if (last[1] !== count) throw new Error(`${family.name}${key}: +Inf bucket is not _count`)
  }
}
