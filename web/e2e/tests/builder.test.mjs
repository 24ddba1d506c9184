// The web builder end to end (issue 15): a real `homesim serve` (real router, one process per
// device) and Debian's chromium, driven as a person would. The tests run in order on one
// page: each builds on the state the previous one left.
//
//   cd web/e2e && npm ci && npm test        (web/dist must be built: cd web && npm run build)
//
// Screenshots for README: docs/img/web-builder.png (the built home), docs/img/web-run.png
// (a live run). HOMESIM_E2E_SPEED (default 2400: two simulated days in ~72 s) sets the
// run's speed as a multiple of real time.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import YAML from 'yaml';
import {
  HERE, IMG, api, byId, connect, dragKind, fillField, freeSpots, joules, launch, openBuilder,
  select, startServer, until, zoomOut,
} from '../lib.mjs';

const SPEED = process.env.HOMESIM_E2E_SPEED || '2400';
const expected = YAML.parse(readFileSync(join(HERE, 'expected-home.yaml'), 'utf8'));

describe('web builder', { timeout: 15 * 60_000 }, () => {
  let server;
  let browser;
  let page;
  const names = {}; // kind -> node name on the canvas
  const edges = {}; // "a|b" -> {source, target}
  const problems = [];

  before(async () => {
    server = await startServer();
    browser = await launch();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
    await openBuilder(page, server.url);
    mkdirSync(IMG, { recursive: true });
  });

  after(async () => {
    const unique = [...new Set(problems)];
    if (unique.length) console.log(`browser said (${problems.length} messages):\n  ${unique.slice(0, 10).join('\n  ')}`);
    await browser?.close();
    await server?.stop();
  });

  test('the palette lists every device kind of GET /api/kinds', async () => {
    const { status, body } = await api(server, '/api/kinds');
    assert.equal(status, 200);
    const want = body.kinds.map((k) => k.kind).sort();
    await byId(page, 'palette').waitFor({ timeout: 30_000 });
    await until(async () => (await byId(page, 'palette').locator('[data-kind]').count())
      >= want.length, 15_000, 'palette entries');
    const got = await byId(page, 'palette').locator('[data-kind]')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-kind')));
    assert.deepEqual([...new Set(got)].sort(), want);
  });

  test('build the example home by dragging and connecting; battery 10 kWh; export YAML',
    async () => {
      // The first node makes the canvas fit it (zoom 2); zoom out as a person would, then
      // drop the others where there is room, column by column (environment → pv → inverter
      // → what it balances).
      const order = ['weather', 'sun', 'pv', 'inverter', 'battery', 'grid', 'load'];
      names.weather = await dragKind(page, 'weather', 40, 40);
      await zoomOut(page, 0.8);
      const size = await byId(page, `node-${names.weather}`).boundingBox();
      for (const kind of order.slice(1)) {
        const [x, y] = (await freeSpots(page, size))[0] ?? [];
        assert.ok(x !== undefined, `room on the canvas for the ${kind}`);
        names[kind] = await dragKind(page, kind, x, y);
      }
      const pairs = [['weather', 'pv'], ['sun', 'pv'], ['pv', 'inverter'],
        ['battery', 'inverter'], ['grid', 'inverter'], ['load', 'inverter']];
      for (const [a, b] of pairs) {
        edges[`${a}|${b}`] = await connect(page, names[a], names[b]);
      }
      await byId(page, 'layout').click(); // auto-layout (elkjs) and fit the view
      await page.waitForTimeout(1500);
      await select(page, names.battery);
      await fillField(page, 'capacity', '10 kWh');
      await page.screenshot({ path: join(IMG, 'web-builder.png') });

      await byId(page, 'export-yaml').click();
      const out = byId(page, 'yaml-output');
      await out.waitFor({ timeout: 10_000 });
      const text = await out.evaluate((e) => ('value' in e ? e.value : e.textContent));
      const doc = YAML.parse(text);
      assert.equal(doc.apiVersion, expected.apiVersion);
      assert.equal(doc.kind, expected.kind);
      const kinds = (doc.spec?.devices ?? []).map((d) => d.kind).sort();
      assert.deepEqual(kinds, expected.spec.devices.map((d) => d.kind).sort());
      for (const want of expected.spec.devices) {
        const dev = doc.spec.devices.find((d) => d.kind === want.kind);
        assert.equal(dev.name, names[want.kind], `the ${want.kind} is named as its node`);
        for (const [prop, value] of Object.entries(want.properties ?? {})) {
          assert.equal(joules(dev.properties?.[prop]), value, `${want.kind}.${prop}`);
        }
      }
      const v = await api(server, '/api/validate', { method: 'POST', body: { yaml: text } });
      assert.deepEqual(v.body.errors, []);
      assert.equal(v.body.ok, true);
    });

  test('a bad value shows its field error', async () => {
    await select(page, names.battery);
    await fillField(page, 'capacity', '-5');
    const error = page.locator('[data-error-for$="properties.capacity"]').first();
    await error.waitFor({ timeout: 10_000 });
    assert.match(await error.getAttribute('data-error-for'), /^spec\.devices\[\d+\]\.properties\.capacity$/);
    assert.ok((await error.textContent()).trim().length > 0, 'the error says why');
    await fillField(page, 'capacity', '10 kWh');
    await until(async () => (await page.locator('[data-error-for$="properties.capacity"]')
      .count()) === 0, 10_000, 'the error to go once the value is fixed');
  });

  const seen = new Set();
  let runStarted = 0;

  test('run two simulated days and see live power on an edge change', async () => {
    await byId(page, 'until-input').fill('2d');
    await byId(page, 'speed-input').fill(SPEED);
    await byId(page, 'run-button').click();
    runStarted = Date.now();
    await until(async () => /running/i.test(await byId(page, 'run-status').textContent()),
      180_000, 'run-status to say running');
    const labels = page.locator('[data-testid^="edge-power-"]');
    const sample = async () => {
      for (const l of await labels.all()) {
        const t = (await l.textContent()).trim();
        if (/\d/.test(t)) seen.add(`${await l.getAttribute('data-testid')}=${t}`);
      }
      return seen.size;
    };
    await until(sample, 120_000, 'a power value on an edge (edge-power-*)');
    // what if the battery were 5 kWh? Asked early: the fork must end before the run does
    await byId(page, 'whatif-set').fill(`${names.battery}.capacity=18000000`);
    await byId(page, 'whatif-button').click();
    const clock0 = (await byId(page, 'clock-time').textContent()).trim();
    const changed = () => {
      const per = {};
      for (const v of seen) { const [id] = v.split('='); per[id] = (per[id] ?? 0) + 1; }
      return Object.values(per).some((n) => n >= 2);
    };
    await until(async () => { await sample(); return changed(); }, 150_000,
      () => `the live power on an edge to change (seen: ${[...seen].join(', ')})`);
    // the screenshot while the sun shines on the array (if it does within a minute)
    const pv = edges['pv|inverter'];
    const pvLabel = byId(page, `edge-power-${pv.source}-${pv.target}`);
    await until(async () => (await pvLabel.count()) && /[1-9]/.test(await pvLabel.textContent()),
      60_000, 'PV power').catch(() => {});
    await page.screenshot({ path: join(IMG, 'web-run.png') });
    const clock1 = (await byId(page, 'clock-time').textContent()).trim();
    assert.notEqual(clock1, clock0, 'the clock advances');
  });

  test('the what-if button shows the fork KPIs next to the original ones', async () => {
    const kpis = byId(page, 'whatif-kpis');
    const fork = kpis.locator('[data-run="fork"][data-kpi="grid import"]');
    await until(async () => (await fork.count()) && /\d.*kWh/.test(await fork.textContent()),
      240_000, async () => `the fork's grid import in whatif-kpis (${(await kpis.count()) ? await kpis.textContent() : 'no whatif-kpis'})`);
    const cells = await kpis.locator('[data-run="fork"]').allTextContents();
    assert.ok(cells.filter((c) => /\d/.test(c)).length >= 5, `fork KPIs: ${cells.join(' | ')}`);
    assert.ok(await kpis.locator('[data-run="original"]').count() >= 5);
  });

  test('the run finishes and the server holds its summary', async () => {
    await until(async () => /finished/i.test(await byId(page, 'run-status').textContent()),
      300_000, 'run-status to say finished');
    const { body } = await api(server, '/api/runs');
    const run = body.runs.find((r) => r.status === 'finished');
    assert.ok(run, `a finished run (runs: ${JSON.stringify(body.runs.map((r) => [r.id, r.status, r.error]))})`);
    assert.equal(run.summary.ticks, run.summary.ticks_planned);
    assert.equal(run.summary.ticks * run.summary.dt, 2 * 86400, 'two simulated days');
    assert.equal(run.summary.complete, true);
    console.log(`run of two simulated days: ${((Date.now() - runStarted) / 1000).toFixed(0)} s wall; edge values seen: ${seen.size}`);
  });
});
