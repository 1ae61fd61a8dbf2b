// ops export / import --dry-run against the test stack: a full export verifies against the
// database it came from, a tampered file or a changed row is caught and named, and an export
// interrupted (in process, or by killing the process) resumes to the same files as a clean one.
import assert from 'node:assert/strict'
import { testStackEnv } from '../../local/testing.ts'
import { main } from '../cli.ts'
import { type AdminSql, withSql } from '../testing.ts'
import { exportDatabase } from './export.ts'
import { fileSha256, type Manifest, readManifest } from './manifest.ts'
import { verifyExport } from './verify.ts'

const env = testStackEnv()
const PROBE = 'public.backup_probe'
const KEYLESS = 'public.backup_probe_keyless'
const PROBE_TABLES = [PROBE, KEYLESS, 'public.feature_flags']

/** Two tables with awkward values: a keyed one (2,500 rows) and one without a key (1,500). */
async function withProbeTables(fn: (sql: AdminSql, dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: 'ops-backup-' })
  await withSql(async (sql) => {
    await sql`create table public.backup_probe (
                id int primary key, note text, doc jsonb, at timestamptz, amount numeric,
                raw bytea, tags text[], span interval)`
    await sql`alter table public.backup_probe enable row level security`
    await sql`insert into public.backup_probe
              select i, case when i % 7 = 0 then null
                             else format(E'row %s: "quoted" \\\\ back\\nslash, ünïcødé ✓', i) end,
                     jsonb_build_object('i', i, 'nested', jsonb_build_array(i, 'x')),
                     timestamptz '2026-01-01 00:00:00+02' + i * interval '1 minute',
                     i / 3.0, int4send(i), array['a', i::text], i * interval '1 second'
                from generate_series(1, 2500) i`
    await sql`create table public.backup_probe_keyless (label text, n int)`
    await sql`alter table public.backup_probe_keyless enable row level security`
    await sql`insert into public.backup_probe_keyless
              select case when i % 2 = 0 then 'Zed' else 'alpha' end, i % 10
                from generate_series(1, 1500) i`
    try {
      await fn(sql, dir)
    } finally {
      await sql`drop table if exists public.backup_probe, public.backup_probe_keyless`
      await Deno.remove(dir, { recursive: true })
    }
  })
}

const entry = (m: Manifest, table: string) => {
  const found = m.tables.find((t) => `${t.schema}.${t.name}` === table)
  assert.ok(found, `${table} is in the manifest`)
  return found
}

/** Each table's rows and sha256 and the bytes of its file: what two exports must share. */
async function contents(folder: string, m: Manifest) {
  return await Promise.all(m.tables.map(async (t) => ({
    table: `${t.schema}.${t.name}`,
    rows: t.rows,
    sha256: t.sha256,
    file: await fileSha256(`${folder}/${t.file}`),
  })))
}

Deno.test('export then import --dry-run round-trips every table with matching counts and sums', () =>
  withProbeTables(async (sql, dir) => {
    const folder = `${dir}/full`
    const m = await exportDatabase(sql, folder, { batch: 400 })
    assert.equal(m.complete, true)
    assert.equal(m.consistent, true)
    assert.equal(m.only, null)

    // The catalog rule: every table of public, ops and metrics, partitions through the parent.
    const tables = await sql<{ name: string }[]>`
      select format('%s.%s', n.nspname, c.relname) as name
        from pg_class c join pg_namespace n on n.oid = c.relnamespace
       where n.nspname in ('public', 'ops', 'metrics') and c.relkind in ('r', 'p')
         and not c.relispartition order by 1`
    assert.deepEqual(m.tables.map((t) => `${t.schema}.${t.name}`).sort(), tables.map((t) => t.name))
    for (const t of m.tables) {
      const [{ n }] = await sql.unsafe(`select count(*)::int as n from "${t.schema}"."${t.name}"`)
      assert.equal(t.rows, n, `${t.schema}.${t.name} row count`)
      assert.equal(await fileSha256(`${folder}/${t.file}`), t.sha256, `${t.file} sha256`)
    }
    assert.deepEqual(entry(m, PROBE).key, ['id'])
    assert.deepEqual(entry(m, KEYLESS).key, [])

    // User data: only the operator's OS user may list the folder or read a file.
    assert.equal((await Deno.stat(folder)).mode! & 0o777, 0o700, 'folder mode')
    for await (const f of Deno.readDir(folder)) {
      assert.equal((await Deno.stat(`${folder}/${f.name}`)).mode! & 0o777, 0o600, f.name)
    }

    // Lines are the rows as JSON, in key order, values intact.
    const lines = (await Deno.readTextFile(`${folder}/${entry(m, PROBE).file}`)).split('\n')
    assert.equal(lines.length, 2501)
    assert.equal(lines[2500], '')
    const row7 = JSON.parse(lines[6])
    assert.deepEqual([row7.id, row7.note], [7, null])
    const row8 = JSON.parse(lines[7])
    assert.equal(row8.note, 'row 8: "quoted" \\ back\nslash, ünïcødé ✓')
    assert.equal(row8.at, '2025-12-31T22:08:00+00:00')
    assert.deepEqual(row8.doc, { i: 8, nested: [8, 'x'] })

    const report = await verifyExport(sql, folder, { batch: 300 })
    assert.deepEqual(report.problems, [])
    for (const t of report.tables) assert.ok(t.ok, `${t.table}: ${t.problems.join('; ')}`)
    assert.equal(report.ok, true)
    assert.equal(await main(['import', '--dry-run', folder]), 0)
  }))

Deno.test('import --dry-run names a tampered file and a changed database row', () =>
  withProbeTables(async (sql, dir) => {
    const folder = `${dir}/some`
    const m = await exportDatabase(sql, folder, { tables: PROBE_TABLES })
    assert.deepEqual(m.only, PROBE_TABLES)
    const path = `${folder}/${entry(m, PROBE).file}`
    const original = await Deno.readTextFile(path)

    // One value changed in the file: its checksum no longer matches, and the row is named.
    await Deno.writeTextFile(path, original.replace('"id":9,"note":"row 9', '"id":9,"note":"row 0'))
    let report = await verifyExport(sql, folder)
    const tampered = report.tables.find((t) => t.table === PROBE)!
    assert.equal(report.ok, false)
    assert.match(tampered.problems.join(), /file checksum differs from the manifest/)
    assert.match(tampered.problems.join(), /first at row 9: export has \{"id":9\}/)
    assert.ok(report.tables.filter((t) => t.table !== PROBE).every((t) => t.ok))
    assert.equal(await main(['import', '--dry-run', folder]), 1)

    // A file cut short.
    await Deno.writeTextFile(path, original.slice(0, original.lastIndexOf('{"id":2500')))
    report = await verifyExport(sql, folder)
    assert.match(
      report.tables.find((t) => t.table === PROBE)!.problems.join(),
      /file has 2499 rows, the manifest says 2500/,
    )

    // The file put back, the database changed instead.
    await Deno.writeTextFile(path, original)
    assert.equal((await verifyExport(sql, folder)).ok, true)
    await sql`update public.backup_probe set amount = -1 where id = 42`
    report = await verifyExport(sql, folder)
    assert.match(
      report.tables.find((t) => t.table === PROBE)!.problems.join(),
      /database content differs from the export in 1 row position\(s\), first at row 42: export has \{"id":42\}, database has \{"id":42\}/,
    )
    await sql`delete from public.backup_probe_keyless where n = 3`
    report = await verifyExport(sql, folder)
    assert.match(
      report.tables.find((t) => t.table === KEYLESS)!.problems.join(),
      /database has 1350 rows, the export 1500/,
    )

    // A missing file; a table the database no longer has.
    await Deno.remove(path)
    await sql`drop table public.backup_probe_keyless`
    report = await verifyExport(sql, folder)
    assert.match(report.tables.find((t) => t.table === PROBE)!.problems.join(), /is missing/)
    assert.match(
      report.tables.find((t) => t.table === KEYLESS)!.problems.join(),
      /table is not in the database/,
    )

    // Without --dry-run nothing is imported: a usage error.
    assert.equal(await main(['import', folder]), 2)
    assert.equal(await main(['export', '--tables', 'public.no_such_table', '--out', dir]), 2)
  }))

Deno.test('import --dry-run names each line that would not import, by line and column', () =>
  withProbeTables(async (sql, dir) => {
    const folder = `${dir}/misfit`
    const m = await exportDatabase(sql, folder, { tables: [PROBE] })
    const path = `${folder}/${entry(m, PROBE).file}`
    const lines = (await Deno.readTextFile(path)).split('\n')
    // An unknown column, a value its column's type refuses (in two columns of one line), and
    // one in a line a chunk further on: small chunks make the check split them out.
    lines[2] = lines[2].replace('{"id":3,', '{"id":3,"bogus":true,')
    lines[4] = lines[4].replace('{"id":5,', '{"id":"five",').replace(/"at":"[^"]*"/, '"at":"soon"')
    lines[1700] = lines[1700].replace(/"tags":\[[^\]]*\]/, '"tags":{"not":"an array"}')
    await Deno.writeTextFile(path, lines.join('\n'))

    const report = await verifyExport(sql, folder, { batch: 500 })
    const problems = report.tables.find((t) => t.table === PROBE)!.problems
      .filter((p) => p.startsWith('would not import'))
    assert.deepEqual(
      problems.map((p) => /^would not import: line \d+, column "[^"]+"/.exec(p)?.[0]),
      [
        'would not import: line 3, column "bogus"',
        'would not import: line 5, column "id"',
        'would not import: line 5, column "at"',
        'would not import: line 1701, column "tags"',
      ],
    )
    assert.match(problems[0], /the table has no such column$/)
    assert.match(problems[1], /invalid input syntax for type integer: "five"$/)
    assert.match(problems[2], /timestamp with time zone: "soon"$/)
    assert.equal(report.ok, false)

    // The round-trip check still runs beside it, and an export that fits passes both.
    assert.match(report.tables[0].problems.join(), /file checksum differs from the manifest/)
    const clean = `${dir}/fits`
    await exportDatabase(sql, clean, { tables: [PROBE] })
    assert.equal((await verifyExport(sql, clean, { batch: 500 })).ok, true)
  }))

/** Exports the probe tables to `<dir>/clean` and returns what it holds. */
async function cleanExport(sql: AdminSql, dir: string) {
  const clean = `${dir}/clean`
  return await contents(
    clean,
    await exportDatabase(sql, clean, { tables: PROBE_TABLES }),
  )
}

async function partialFiles(folder: string) {
  const names: string[] = []
  for await (const e of Deno.readDir(folder)) if (e.name.endsWith('.partial')) names.push(e.name)
  return names
}

Deno.test('an export interrupted mid-table resumes to the same files as a clean export', () =>
  withProbeTables(async (sql, dir) => {
    const folder = `${dir}/interrupted`
    await assert.rejects(
      () =>
        exportDatabase(sql, folder, {
          tables: PROBE_TABLES,
          batch: 200,
          afterBatch: (table, rows) => {
            if (table === KEYLESS && rows >= 600) throw new Error('interrupted')
          },
        }),
      /interrupted/,
    )
    const cut = await readManifest(folder)
    assert.deepEqual(cut.tables.map((t) => t.status), ['done', 'pending', 'pending'])
    assert.equal(cut.complete, false)
    const partial = await partialFiles(folder)
    assert.equal(partial.length, 1)
    assert.equal((await Deno.stat(`${folder}/${partial[0]}`)).mode! & 0o777, 0o600)
    const report = await verifyExport(sql, folder)
    assert.equal(report.ok, false)
    assert.match(report.problems.join(), /incomplete/)

    const skipped: string[] = []
    const m = await exportDatabase(sql, folder, {
      resume: true,
      progress: (p) => p.event === 'skip' && skipped.push(p.table),
    })
    assert.deepEqual(skipped, [PROBE])
    assert.equal(m.complete, true)
    assert.equal(m.consistent, false, 'two snapshots: the manifest says so')
    assert.equal(m.snapshots.length, 2)
    assert.deepEqual(await partialFiles(folder), [])
    assert.deepEqual(await contents(folder, m), await cleanExport(sql, dir))
    assert.equal((await verifyExport(sql, folder)).ok, true)
  }))

Deno.test('an export process killed mid-table resumes to the same files as a clean export', () =>
  withProbeTables(async (sql, dir) => {
    const folder = `${dir}/killed`
    // A child exporting slowly (a pause after every batch of 100 rows), so it is mid-table
    // when killed.
    const script = `
      import { connect } from './ops/connection.ts'
      import { exportDatabase } from './ops/backup/export.ts'
      const sql = connect(Deno.env.get('SUPABASE_DB_URL'))
      await exportDatabase(sql, ${JSON.stringify(folder)}, {
        tables: ${JSON.stringify(PROBE_TABLES)}, batch: 100,
        afterBatch: () => new Promise((r) => setTimeout(r, 40)),
      })
      await sql.end()`
    const child = new Deno.Command(Deno.execPath(), {
      args: ['eval', script],
      env: { SUPABASE_DB_URL: env.dbUrl },
      stdout: 'null',
      stderr: 'piped',
    }).spawn()
    try {
      const deadline = Date.now() + 60_000
      for (;;) {
        const m = await readManifest(folder).catch(() => null)
        if (m?.tables[0].status === 'done' && (await partialFiles(folder)).length) break
        assert.ok(Date.now() < deadline, 'the child reached the second table')
        await new Promise((r) => setTimeout(r, 20))
      }
    } finally {
      child.kill('SIGKILL')
      await child.status
      await child.stderr.cancel()
    }
    const cut = await readManifest(folder)
    assert.equal(cut.complete, false)
    assert.equal(cut.tables[1].status, 'pending')

    assert.equal(await main(['export', '--resume', folder]), 0)
    const m = await readManifest(folder)
    assert.equal(m.complete, true)
    assert.deepEqual(await partialFiles(folder), [])
    assert.deepEqual(await contents(folder, m), await cleanExport(sql, dir))
  }))
