import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { redo, undo, useBuilder } from './store';
import { emptyModel, importYaml, toManifest } from './lib/manifest';

const st = () => useBuilder.getState();

describe('the builder store', () => {
  beforeEach(() => {
    st().load(emptyModel('test-home'));
    useBuilder.temporal.getState().clear();
  });

  it('adds, connects in the registry direction and refuses with a reason', () => {
    const inv = st().addDevice('inverter', { x: 0, y: 0 });
    const pv = st().addDevice('pv', { x: 0, y: 0 });
    const bat = st().addDevice('battery', { x: 0, y: 0 });
    expect(st().connect(inv, pv)).toBe(true);
    expect(st().edges).toMatchObject([{ source: 'pv', target: 'inverter' }]);
    expect(st().connect(bat, inv)).toBe(true);                // a kind without references
    expect(st().edges).toMatchObject([{ source: 'pv', target: 'inverter' }, { source: 'battery', target: 'inverter' }]);
    expect(st().connect(pv, bat)).toBe(false);
    expect(st().message?.kind).toBe('error');
    expect(st().message?.text).toMatch(/cannot be connected/);
  });

  it('writes a pv → pv_inverter connection into the pv and keeps edges and manifest in step', () => {
    const inv = st().addDevice('inverter', { x: 0, y: 0 });
    const pvi = st().addDevice('pv_inverter', { x: 0, y: 0 });
    const pvi2 = st().addDevice('pv_inverter', { x: 0, y: 0 });
    const pv = st().addDevice('pv', { x: 0, y: 0 });
    const pvOf = () => st().model.devices.find((d) => d.id === pv)!;
    const out = () => st().edges.filter((e) => e.source === pv).map((e) => e.target).sort();
    expect(st().connect(pv, inv)).toBe(true);
    expect(out()).toEqual([inv]);
    expect(st().connect(pvi, pv)).toBe(true);                 // drawn backwards
    expect(pvOf().properties.inverter).toBe(pvi);
    expect(out()).toEqual([pvi]);                             // balanced through it, not the inverter
    expect(st().connect(pv, pvi2)).toBe(true);                // rewired: one reference
    expect(pvOf().properties.inverter).toBe(pvi2);
    expect(out()).toEqual([pvi2]);
    st().rename(pvi2, 'string');
    expect(pvOf().properties.inverter).toBe('string');
    expect(out()).toEqual(['string']);
    st().setProperty(pv, 'inverter', pvi);                    // edited in the form
    expect(out()).toEqual([pvi]);
    st().disconnect(pv, pvi);
    expect(pvOf().properties.inverter).toBeUndefined();
    expect(out()).toEqual([inv]);
    st().connect(pv, pvi);
    st().remove([pvi]);
    expect(pvOf().properties.inverter).toBeUndefined();
    expect(out()).toEqual([inv]);
    undo();
    expect(pvOf().properties.inverter).toBe(pvi);
  });

  it('undoes and redoes edits, deletions and connections', () => {
    const bat = st().addDevice('battery', { x: 0, y: 0 });
    st().setProperty(bat, 'capacity', 36000000);
    st().remove([bat]);
    expect(st().model.devices).toHaveLength(0);
    undo();
    expect(st().model.devices[0].properties.capacity).toBe(36000000);
    undo();
    expect(st().model.devices[0].properties.capacity).toBeUndefined();
    redo();
    expect(st().model.devices[0].properties.capacity).toBe(36000000);
  });

  it('renames a device with its connections and copies / pastes under a fresh name', () => {
    const inv = st().addDevice('inverter', { x: 0, y: 0 });
    const pv = st().addDevice('pv', { x: 10, y: 10 });
    st().connect(pv, inv);
    st().rename(pv, 'pv-south');
    expect(st().edges[0].source).toBe('pv-south');
    st().setProperty('pv-south', 'pdc0', 5000);
    st().copy(['pv-south']);
    st().paste();
    const names = st().model.devices.map((d) => d.name);
    expect(names).toEqual(['inverter', 'pv-south', 'pv-south-2']);
    expect(st().model.devices[2].properties.pdc0).toBe(5000);
    expect(st().positions['pv-south-2']).toEqual({ x: 50, y: 50 });
  });

  it('loads a block with its flats as groups and exports the same manifest', () => {
    const text = readFileSync(resolve(__dirname, '..', '..', 'examples', 'block.yaml'), 'utf8');
    st().load(importYaml(text));
    expect(st().model.flats.map((f) => f.name)).toContain('top-east');
    expect(st().edges.some((e) => e.source === 'top-east' && e.target === 'heat-node')).toBe(true);
    expect(st().edges.some((e) => e.source === 'top-east' && e.target === 'top-west')).toBe(false);
    expect(toManifest(st().model)).toEqual(toManifest(importYaml(text)));
  });
});
