import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { canConnect, impliedEdges } from './rules';
import { BUNDLED } from './registry';
import { importYaml } from './manifest';

const dev = (name: string, kind = name) => ({ name, kind });

describe('connection rules from the registry', () => {
  it.each([
    ['pv', 'inverter', 'pv', 'inverter'],
    ['inverter', 'pv', 'pv', 'inverter'],      // drawn backwards: the canonical direction
    ['battery', 'inverter', 'battery', 'inverter'],
    ['grid', 'inverter', 'grid', 'inverter'],
    ['flat', 'heat_node', 'flat', 'heat_node'],
    ['weather', 'pv', 'weather', 'pv'],
    ['ev_charger', 'load_manager', 'ev_charger', 'load_manager'],
  ])('%s ↔ %s is allowed as %s → %s', (a, b, s, t) => {
    const v = canConnect(BUNDLED, dev(a), dev(b));
    expect(v).toMatchObject({ ok: true, source: s, target: t });
  });
  it('refuses what the registry does not relate, with the reason', () => {
    const v = canConnect(BUNDLED, dev('pv'), dev('battery'));
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toMatch(/cannot be connected.*registry connects pv only to .*inverter/);
  });
  it('refuses a loop and a duplicate', () => {
    expect(canConnect(BUNDLED, dev('pv'), dev('pv')).ok).toBe(false);
    expect(canConnect(BUNDLED, dev('pv'), dev('inverter'), [{ source: 'pv', target: 'inverter' }])).toMatchObject({ ok: false, reason: expect.stringMatching(/already/) });
  });
  it('derives the edges of the example home', () => {
    const m = importYaml(readFileSync(resolve(__dirname, '..', '..', '..', 'examples', 'home.yaml'), 'utf8'));
    const edges = impliedEdges(BUNDLED, m.devices.map((d) => ({ name: d.id, kind: d.kind }))).map((e) => `${e.source}>${e.target}`);
    for (const e of ['pv-south>inverter', 'battery>inverter', 'grid>inverter', 'house>inverter', 'sun>pv-south', 'weather>pv-south']) {
      expect(edges).toContain(e);
    }
    expect(edges).not.toContain('battery>pv-south');
  });
  it('draws a reference only to the device it names, in place of the balancer (pv → pv_inverter)', () => {
    const m = importYaml(readFileSync(resolve(__dirname, '..', '..', '..', 'examples', 'pv-inverter.yaml'), 'utf8'));
    const two = [...m.devices.map((d) => ({ name: d.id, kind: d.kind, local: d.name, properties: d.properties })),
      { name: 'second-inverter', kind: 'pv_inverter', properties: {} }];
    const edges = impliedEdges(BUNDLED, two).map((e) => `${e.source}>${e.target}`);
    expect(edges).toContain('pv-west>string-inverter');
    expect(edges).toContain('pv-south>inverter');
    expect(edges).toContain('string-inverter>inverter');
    for (const e of ['pv-west>inverter', 'pv-west>second-inverter', 'pv-south>string-inverter', 'pv-south>second-inverter']) {
      expect(edges).not.toContain(e);
    }
  });
  it('resolves a reference inside a flat by the local name, else to the building', () => {
    const d = (name: string, kind: string, group?: string, properties: Record<string, unknown> = {}) =>
      ({ name: group ? `${group}-${name}` : name, local: name, kind, group, properties });
    const devices = [d('inverter', 'inverter'), d('pvi', 'pv_inverter'), d('pvi', 'pv_inverter', 'a'),
      d('roof', 'pv', 'a', { inverter: 'pvi' }), d('roof', 'pv', 'b', { inverter: 'pvi' })];
    const edges = impliedEdges(BUNDLED, devices).map((e) => `${e.source}>${e.target}`);
    expect(edges).toContain('a-roof>a-pvi');      // its flat's own pvi
    expect(edges).toContain('b-roof>pvi');        // flat b has none: the building's
    expect(edges).not.toContain('a-roof>pvi');
    expect(edges).not.toContain('a-roof>inverter');
  });
  it('allows connecting any pv to any pv_inverter (the connection sets the reference)', () => {
    expect(canConnect(BUNDLED, dev('pv'), dev('pv_inverter'))).toMatchObject({ ok: true, source: 'pv', target: 'pv_inverter', why: expect.stringMatching(/its inverter/) });
  });
});
