// Helpers of the end-to-end tests: a real `homesim serve`, Debian's chromium through
// playwright-core, and the gestures a person makes on the builder (drag from the palette,
// connect two nodes, fill a form field). Stable hooks: web/README.md (data-testid, data-kind,
// data-field, data-error-for).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const ROOT = resolve(HERE, '..', '..');
export const IMG = join(ROOT, 'docs', 'img');

/** The Python that runs homesim: HOMESIM_PYTHON, else the repository's .venv, else python3. */
export function python() {
  if (process.env.HOMESIM_PYTHON) return process.env.HOMESIM_PYTHON;
  const venv = join(ROOT, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

/**
 * Start `homesim serve --port 0 --no-browser` in a fresh runs folder; resolve when its first
 * stdout line with http:// (the URL with the token) is printed.
 * @returns {Promise<{url: string, base: string, token: string, runs: string, stop: () => Promise<void>, log: () => string}>}
 */
export function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'homesim-e2e-'));
  const runs = join(dir, 'runs');
  const proc = spawn(python(), ['-m', 'homesim.infra.cli', 'serve', '--port', '0',
    '--no-browser', '--runs', runs], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr.on('data', (b) => { err += b; });
  // never leave a server behind: on exit, and on SIGINT / SIGTERM of this test process
  const bye = () => { if (proc.exitCode === null) proc.kill('SIGINT'); };
  process.once('exit', bye);
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => { bye(); process.exit(130); });
  }
  const stop = async () => {
    if (proc.exitCode === null) {
      const ended = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGINT');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
      await ended;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`homesim serve printed no URL in 60 s:\n${out}\n${err}`)), 60_000);
    proc.stdout.on('data', (b) => {
      out += b;
      const line = out.split('\n').find((l) => l.includes('http://'));
      if (line && timer) {
        clearTimeout(timer);
        const url = line.trim().split(/\s+/).pop();
        const [base, token] = url.split('/?token=');
        ok({ url, base, token, runs, stop, log: () => err });
      }
    });
    proc.once('exit', (code) => fail(new Error(`homesim serve exited (${code}):\n${out}\n${err}`)));
  });
}

/** A JSON API call with the server's token; returns {status, body}. */
export async function api(server, path, { method = 'GET', body } = {}) {
  const res = await fetch(server.base + path, {
    method,
    headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/**
 * Debian's chromium, headless, with a fresh profile (playwright-core downloads nothing).
 * @returns {Promise<{context: import('playwright-core').BrowserContext, close: () => Promise<void>}>}
 */
export async function launch() {
  const profile = mkdtempSync(join(tmpdir(), 'homesim-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

export const byId = (page, id) => page.locator(`[data-testid="${id}"]`);

/**
 * Open the builder and wait for its palette. While web/dist is being rebuilt (a developer's
 * `npm run build` empties it first) the server answers "not built": then wait and reload.
 * Otherwise fail with what the page shows.
 */
export async function openBuilder(page, url) {
  for (let attempt = 0; ; attempt += 1) {
    await page.goto(url);
    try {
      await byId(page, 'palette').waitFor({ timeout: 30_000 });
      return;
    } catch (e) {
      const text = (await page.locator('body').textContent().catch(() => '')) ?? '';
      if (!/not built/.test(text) || attempt >= 3) {
        throw new Error(`the builder shows no palette; the page says: ${text.slice(0, 500)}`);
      }
      await page.waitForTimeout(15_000);
    }
  }
}

/** The names of the nodes on the canvas (from their data-testid node-<name>). */
export async function nodeNames(page) {
  const ids = await page.locator('[data-testid^="node-"]').evaluateAll(
    (els) => els.map((e) => e.getAttribute('data-testid')));
  return ids.map((id) => id.slice('node-'.length));
}

/** Drag the palette entry of `kind` onto the canvas at (x, y); the new node's name. */
export async function dragKind(page, kind, x, y) {
  const before = new Set(await nodeNames(page));
  const entry = byId(page, 'palette').locator(`[data-kind="${kind}"]`);
  await entry.dragTo(byId(page, 'canvas'), { targetPosition: { x, y } });
  let added = [];
  for (let i = 0; i < 50 && added.length === 0; i += 1) {
    added = (await nodeNames(page)).filter((n) => !before.has(n));
    if (added.length === 0) await page.waitForTimeout(100);
  }
  if (added.length !== 1) {
    throw new Error(`dragging palette entry ${kind} onto the canvas added ${added.length} node(s)`);
  }
  return added[0];
}

/** The canvas zoom (the scale of React Flow's viewport). */
export async function zoom(page) {
  const style = await page.locator('.react-flow__viewport').getAttribute('style');
  const m = /scale\(([\d.]+)\)/.exec(style || '');
  return m ? Number(m[1]) : 1;
}

/** Zoom out with the canvas controls (−) until the zoom is at most `max`. */
export async function zoomOut(page, max) {
  for (let i = 0; i < 20 && (await zoom(page)) > max; i += 1) {
    await page.locator('.react-flow__controls-zoomout').click();
    await page.waitForTimeout(120);
  }
  return zoom(page);
}

const overlaps = (a, b, m = 0) => a.x < b.x + b.width + m && b.x < a.x + a.width + m
  && a.y < b.y + b.height + m && b.y < a.y + a.height + m;

/**
 * Free places on the canvas for a node of `size` (px, as drawn now), column by column: not
 * over a node, the minimap or the controls. Positions are relative to the canvas (where a
 * drop puts a node's top-left corner).
 */
export async function freeSpots(page, size) {
  const canvas = await byId(page, 'canvas').boundingBox();
  const taken = [];
  for (const sel of ['[data-testid^="node-"]', '.react-flow__minimap', '.react-flow__controls',
    '.react-flow__attribution']) {
    for (const el of await page.locator(sel).all()) {
      const b = await el.boundingBox();
      if (b) taken.push(b);
    }
  }
  const spots = [];
  const gapX = size.width * 0.6;
  const gapY = size.height * 0.8;
  for (let x = 20; x + size.width + 10 < canvas.width; x += size.width + gapX) {
    for (let y = 20; y + size.height + 10 < canvas.height; y += size.height + gapY) {
      const r = { x: canvas.x + x, y: canvas.y + y, width: size.width, height: size.height };
      if (!taken.some((t) => overlaps(r, t, 12))) spots.push([Math.round(x), Math.round(y)]);
    }
  }
  return spots;
}

async function centre(locator) {
  const box = await locator.boundingBox();
  if (!box) throw new Error('element not visible');
  return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
}

/** The edge between two nodes (either direction) if there is one, else null. */
export async function edgeBetween(page, a, b) {
  for (const [s, t] of [[a, b], [b, a]]) {
    if (await byId(page, `edge-${s}-${t}`).count()) return { source: s, target: t };
  }
  return null;
}

/**
 * Connect two nodes as a person does: press on a handle of one, release on a handle of the
 * other (source → target, else the other way round). Returns {source, target} of the edge.
 */
export async function connect(page, a, b) {
  for (const [s, t] of [[a, b], [b, a]]) {
    const from = byId(page, `node-${s}`).locator('.react-flow__handle.source').first();
    const to = byId(page, `node-${t}`).locator('.react-flow__handle.target').first();
    if (!(await from.count()) || !(await to.count())) continue;
    const p = await centre(from);
    const q = await centre(to);
    await page.mouse.move(p.x, p.y);
    await page.mouse.down();
    await page.mouse.move((p.x + q.x) / 2, (p.y + q.y) / 2, { steps: 5 });
    await page.mouse.move(q.x, q.y, { steps: 5 });
    await page.mouse.up();
    await page.waitForTimeout(150);
    const e = await edgeBetween(page, a, b);
    if (e) return e;
  }
  throw new Error(`could not connect ${a} and ${b} (no edge-${a}-${b} or edge-${b}-${a})`);
}

/** Select a node (click its header) so that its form shows. */
export async function select(page, name) {
  await byId(page, `node-${name}`).click({ position: { x: 12, y: 10 } });
}

/** Fill a form field (data-field) of the selected node and leave it (blur). */
export async function fillField(page, property, value) {
  const input = page.locator(`[data-field="${property}"]`).first();
  await input.fill(String(value));
  await input.press('Tab');
}

/** Energy quantities in J: a number, or a string with a unit (J, kJ, MJ, Wh, kWh, MWh). */
export function joules(v) {
  if (typeof v === 'number') return v;
  const m = /^\s*([-+0-9.eE]+)\s*([kM]?J|[kM]?Wh)?\s*$/.exec(String(v));
  if (!m) return NaN;
  const f = { J: 1, kJ: 1e3, MJ: 1e6, Wh: 3600, kWh: 3.6e6, MWh: 3.6e9 }[m[2] || 'J'];
  return Number(m[1]) * f;
}

/** Poll `fn` until it returns a truthy value (or throw after `ms`; `what`: text or a function). */
export async function until(fn, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) {
      const text = typeof what === 'function' ? await what() : what;
      throw new Error(`timed out after ${ms / 1000} s waiting for ${text}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}
