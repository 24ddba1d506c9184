import { describe, expect, it } from 'vitest';
import { edgePower, emptyLive, formatMetric, onPackets, onSettle, onWindow, tickArray } from './live';
import { clockSpeed, parseSpeed } from './api';

const packets = (flows: Array<[string, string, number[]]>) => ({
  run: 'r', window: 0, tick0: 0, n: 2, publisher: 'inverter',
  flows: flows.map(([source, sink, joules]) => ({ source, sink, carrier: 'electricity' as const, joules })),
});

describe('live state from the bus', () => {
  it('turns the last tick of a window into power [W], net in the edge direction', () => {
    let s = onWindow(emptyLive(), { run: 'r', window: 0, tick0: 0, n: 2, dt: 60, start: 0, speed: 'max' });
    s = onPackets(s, packets([['pv', 'inverter', [0, 60000]], ['inverter', 'battery', [0, 12000]]]));
    expect(edgePower(s, 'pv', 'inverter')).toBe(1000);
    expect(edgePower(s, 'battery', 'inverter')).toBe(-200); // charging: energy flows to the battery
    expect(edgePower(s, 'grid', 'inverter')).toBeNull();
  });
  it('keeps the last soc, adds up cost and skips missing values', () => {
    let s = emptyLive();
    const settle = (metrics: Record<string, Array<number | null>>) => ({ run: 'r', window: 0, tick0: 0, n: 2, device: 'battery', packets: 1, metrics: metrics as Record<string, number[]> });
    s = onSettle(s, settle({ soc: [0.4, 0.5], cost: [0.1, 0.2] }));
    s = onSettle(s, settle({ soc: [0.6, null], cost: [0.3] }));
    expect(s.metrics.battery.soc).toBe(0.6);
    expect(s.metrics.battery.cost).toBeCloseTo(0.6);
    expect(formatMetric('soc', 0.6)).toBe('soc 60 %');
    expect(formatMetric('temp_room', Number.NaN)).toBe('temp_room —');
  });
  it('reads packed arrays as the bus sends them (Python autobahn JSON: "\\0" + base64 of float64 LE)', () => {
    // produced by autobahn's JsonObjectSerializer for pack([0, 60000]) and pack([0.4, nan])
    const j = '\u0000AAAAAAAAAAAAAAAAAEztQA==';
    const soc = '\u0000mpmZmZmZ2T8AAAAAAAD4fw==';
    expect(tickArray(j)).toEqual([0, 60000]);
    let s = onWindow(emptyLive(), { run: 'r', window: 0, tick0: 0, n: 2, dt: 60, start: 0, speed: 'max' });
    s = onPackets(s, { run: 'r', window: 0, tick0: 0, n: 2, publisher: 'inverter', flows: [{ source: 'pv', sink: 'inverter', carrier: 'electricity', joules: j }] });
    expect(edgePower(s, 'pv', 'inverter')).toBe(1000);
    s = onSettle(s, { run: 'r', window: 0, tick0: 0, n: 2, device: 'battery', packets: 1, metrics: { soc } });
    expect(s.metrics.battery.soc).toBe(0.4); // the NaN of the last tick is skipped
    expect(tickArray('\u0000AAA=')).toEqual([]); // not whole float64: nothing, no exception
    expect(tickArray('plain text')).toEqual([]);
  });
  it('reads speeds as the API and the clock take them', () => {
    expect(parseSpeed('max')).toBe('max');
    expect(parseSpeed('60x')).toBe(60);
    expect(parseSpeed(' 2400 ')).toBe(2400);
    expect(() => parseSpeed('fast')).toThrow(/invalid speed/);
    expect(clockSpeed(60)).toBe('60x');
  });
});
