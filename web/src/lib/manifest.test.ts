import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { emptyModel, exportYaml, freshName, importYaml, ManifestParseError, toManifest, type DeviceModel } from './manifest';
import { BUNDLED } from './registry';
import { validateModel } from './validate';

const EXAMPLES = resolve(__dirname, '..', '..', '..', 'examples');
const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.yaml')).sort();

describe('import / export of every example manifest', () => {
  it('finds the examples', () => {
    expect(files.length).toBeGreaterThanOrEqual(3);
  });
  it.each(files)('%s: import then export gives the same manifest', (f) => {
    const text = readFileSync(resolve(EXAMPLES, f), 'utf8');
    const model = importYaml(text);
    const again = exportYaml(model);
    expect(parse(again)).toEqual(parse(text));
    // a YAML 1.1 reader (PyYAML, the server's) reads the same manifest
    expect(parse(again, { version: '1.1' })).toEqual(parse(text));
    // and a second round trip is stable
    expect(exportYaml(importYaml(again))).toBe(again);
  });
  it.each(files)('%s: validates in the page without errors', (f) => {
    const model = importYaml(readFileSync(resolve(EXAMPLES, f), 'utf8'));
    expect(validateModel(model, BUNDLED)).toEqual([]);
  });
});

describe('the canvas model', () => {
  it('names a block flat device by its bus name', () => {
    const m = importYaml(readFileSync(resolve(EXAMPLES, 'block.yaml'), 'utf8'));
    const ids = m.devices.map((d) => d.id);
    expect(ids).toContain('ground-west');          // the flat's own zone
    expect(ids).toContain('ground-west-kitchen');  // <flat>-<device>
    expect(m.devices.find((d) => d.id === 'garage-1')?.group).toBeUndefined();
    expect(m.devices.find((d) => d.id === 'garage-1')?.extra.flat).toBe('top-west');
  });

  it('builds the manifest of devices placed on an empty canvas', () => {
    const m = emptyModel('greensboro');
    const add = (kind: string, properties: Record<string, unknown> = {}): DeviceModel => {
      const name = freshName(m, kind);
      const d = { id: name, name, kind, properties, extra: {}, withProperties: false };
      m.devices.push(d);
      return d;
    };
    add('inverter', { p_ac_max: 5000 });
    add('battery', { capacity: 36000000 });
    add('pv');
    add('pv');
    const doc = toManifest(m) as { kind: string; spec: { devices: Array<Record<string, unknown>> } };
    expect(doc.kind).toBe('Home');
    expect(doc.spec.devices).toEqual([
      { name: 'inverter', kind: 'inverter', properties: { p_ac_max: 5000 } },
      { name: 'battery', kind: 'battery', properties: { capacity: 36000000 } },
      { name: 'pv', kind: 'pv' },
      { name: 'pv-2', kind: 'pv' },
    ]);
    expect(freshName(m, 'heat_pump')).toBe('heat-pump');
  });

  it('refuses what is not a manifest, with the path', () => {
    expect(() => importYaml('kind: Flat\nspec: {}')).toThrow(ManifestParseError);
    expect(() => importYaml('kind: Home\nspec: {devices: [{kind: pv}]}')).toThrow(/needs a name/);
    expect(() => importYaml('a: [')).toThrow(/not YAML/);
  });
});
