import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importYaml } from './manifest';
import { BUNDLED } from './registry';
import { normaliseUnits, validateModel } from './validate';

const home = () => importYaml(readFileSync(resolve(__dirname, '..', '..', '..', 'examples', 'home.yaml'), 'utf8'));

describe('validation with field paths', () => {
  it('names a bad value by its path', () => {
    const m = home();
    m.devices.find((d) => d.name === 'battery')!.properties.capacity = -1;
    expect(validateModel(m, BUNDLED)).toEqual([
      { path: 'spec.devices[4].properties.capacity', message: 'must be > 0' },
    ]);
  });
  it('names an unknown property', () => {
    const m = home();
    m.devices.find((d) => d.name === 'battery')!.properties.capacty = 1;
    expect(validateModel(m, BUNDLED)).toEqual([
      { path: 'spec.devices[4].properties.capacty', message: 'unknown field "capacty"' },
    ]);
  });
  it('accepts quantities with units and refuses the wrong dimension', () => {
    const m = home();
    const bat = m.devices.find((d) => d.name === 'battery')!;
    bat.properties.capacity = '10 kWh';
    expect(validateModel(m, BUNDLED)).toEqual([]);
    bat.properties.capacity = '5 kW';
    const errs = validateModel(m, BUNDLED);
    expect(errs[0].path).toBe('spec.devices[4].properties.capacity');
    expect(errs[0].message).toMatch(/a power, not an energy/);
  });
  it('applies the kinds\' limits and requirements from the registry', () => {
    const m = home();
    m.devices.push({ ...structuredClone(m.devices[3]), id: 'inverter-2', name: 'inverter-2' });
    m.devices = m.devices.filter((d) => d.kind !== 'sun');
    const errs = validateModel(m, BUNDLED);
    expect(errs).toContainEqual({ path: 'spec.devices[6]', message: 'a home has at most 1 enabled inverter device(s); disable or remove this one' });
    expect(errs.some((e) => e.message.includes('need an enabled sun'))).toBe(true);
  });
  it('refuses duplicate names', () => {
    const m = home();
    m.devices[2].name = 'sun';
    m.devices[2].id = 'sun';
    expect(validateModel(m, BUNDLED).some((e) => e.path === 'spec.devices[2].name')).toBe(true);
  });
  it('converts nested quantities (tariffs, windows) by the schema', () => {
    const k = BUNDLED.get('grid')!;
    expect(normaliseUnits(k.properties_schema, { p_import_max: '13.8 kW', tariff_import: { flat: 0.1 } }))
      .toEqual({ p_import_max: 13800, tariff_import: { flat: 0.1 } });
  });
});

describe('plugin kinds (GET /api/kinds has more kinds than the bundled schema)', () => {
  it('checks a plugin device against its own properties schema', async () => {
    const { makeRegistry } = await import('./registry');
    const reg = makeRegistry([...BUNDLED.values(), {
      ...BUNDLED.get('load')!, kind: 'kettle', label: 'Kettle',
      properties_schema: { type: 'object', additionalProperties: false, properties: { power: { type: 'number', minimum: 0, 'x-unit': 'W' } } },
    }]);
    const m = home();
    m.devices.push({ id: 'kettle', name: 'kettle', kind: 'kettle', properties: { power: '2 kW' }, extra: {}, withProperties: true });
    expect(validateModel(m, reg)).toEqual([]);
    m.devices[m.devices.length - 1].properties.power = -1;
    expect(validateModel(m, reg)).toEqual([{ path: 'spec.devices[7].properties.power', message: 'must be >= 0' }]);
  });
});
