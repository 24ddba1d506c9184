// What the bus says about a running home, reduced to what the canvas shows: the power on each
// edge [W] (from homesim.packets.<publisher>: the last tick of the window, net in the edge's direction),
// per-device metrics (from homesim.settle: soc, temperatures, cost) and the clock.
// Pure: the WAMP adapter (wamp.ts) feeds it messages.
import type { ClockStatus, ClockWindow, JoulePackets, Settle } from '../generated/models';

export interface LiveState {
  dt: number;
  /** `source>sink` → power of the last tick [W]. */
  flows: Record<string, number>;
  /** device → metric → value (last tick; `cost` summed over the run). */
  metrics: Record<string, Record<string, number>>;
  clock: ClockStatus | null;
  window: number;
}

/**
 * A contract `TickArray` as numbers: a list as it is, or the packed form (n little-endian
 * float64) that WAMP's JSON serializer delivers as "\0" + base64 (or a Uint8Array from a
 * binary serializer). Anything else: an empty array.
 */
export function tickArray(v: unknown): number[] {
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'number' ? x : NaN));
  let bytes: Uint8Array | null = null;
  if (v instanceof Uint8Array) bytes = v;
  else if (typeof v === 'string' && v.startsWith('\u0000')) {
    try {
      const raw = atob(v.slice(1));
      bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
    } catch {
      return [];
    }
  }
  if (!bytes || bytes.length % 8) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: bytes.length / 8 }, (_, i) => view.getFloat64(i * 8, true));
}

export const emptyLive = (dt = 60): LiveState => ({ dt, flows: {}, metrics: {}, clock: null, window: -1 });

export function onWindow(s: LiveState, w: ClockWindow): LiveState {
  return { ...s, dt: w.dt, window: w.window };
}

export function onPackets(s: LiveState, p: JoulePackets): LiveState {
  const flows = { ...s.flows };
  // a publisher's flows replace what it published before
  for (const f of p.flows) {
    const joules = tickArray(f.joules);
    const j = joules.length ? joules[joules.length - 1] : 0;
    if (typeof j === 'number' && Number.isFinite(j)) flows[`${f.source}>${f.sink}`] = j / s.dt;
  }
  return { ...s, flows };
}

/** Settle metrics shown on nodes: the last value, except `cost`, which adds up. */
const SHOWN = ['soc', 'temp_room', 'temp', 't_flow', 'cop', 'cost', 'p', 'p_th', 'p_el'];

export function onSettle(s: LiveState, st: Settle): LiveState {
  const prev = s.metrics[st.device] ?? {};
  const next: Record<string, number> = { ...prev };
  for (const [k, arr] of Object.entries(st.metrics ?? {})) {
    // NaN travels as null in JSON: a metric without a value this tick is skipped
    const vals = tickArray(arr).filter((v) => Number.isFinite(v));
    if (!SHOWN.includes(k) || !vals.length) continue;
    next[k] = k === 'cost' ? (prev.cost ?? 0) + vals.reduce((a, b) => a + b, 0) : vals[vals.length - 1];
  }
  return { ...s, metrics: { ...s.metrics, [st.device]: next } };
}

export function onClock(s: LiveState, c: ClockStatus): LiveState {
  return { ...s, clock: c };
}

/** Net power from `source` to `target` [W] (negative: the other way), or null without packets. */
export function edgePower(s: LiveState, source: string, target: string): number | null {
  const a = s.flows[`${source}>${target}`];
  const b = s.flows[`${target}>${source}`];
  if (a === undefined && b === undefined) return null;
  return (a ?? 0) - (b ?? 0);
}

/** A metric for people: soc in %, temperatures in °C, cost with 2 decimals. */
export function formatMetric(name: string, v: number): string {
  if (typeof v !== 'number' || !Number.isFinite(v)) return `${name} —`;
  if (name === 'soc') return `soc ${(v * 100).toFixed(0)} %`;
  if (name.startsWith('temp') || name === 't_flow') return `${name} ${v.toFixed(1)} °C`;
  if (name === 'cost') return `cost ${v.toFixed(2)}`;
  if (name === 'cop') return `cop ${v.toFixed(2)}`;
  return `${name} ${Math.round(v)} W`;
}
