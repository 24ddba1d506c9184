import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importYaml } from './manifest';
import { BUNDLED } from './registry';
import { impliedEdges } from './rules';
import { autoLayout } from './layout';

describe('auto-layout', () => {
  it('places every device of the block and sizes every flat', async () => {
    const m = importYaml(readFileSync(resolve(__dirname, '..', '..', '..', 'examples', 'block.yaml'), 'utf8'));
    const edges = impliedEdges(BUNDLED, m.devices.map((d) => ({ name: d.id, kind: d.kind, group: d.group })));
    const l = await autoLayout(m, edges);
    for (const d of m.devices) expect(l.positions[d.id]).toBeDefined();
    for (const f of m.flats) expect(l.sizes[`flat:${f.name}`].width).toBeGreaterThan(0);
    // the inverter is right of the PV array it balances (layered, left to right)
    expect(l.positions['inverter'].x).toBeGreaterThan(l.positions['roof-pv'].x);
  });
});
