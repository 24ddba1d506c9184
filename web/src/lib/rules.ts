// Which devices may be connected, derived from the kinds' descriptors (x-homesim-kind):
// references (pv → pv_inverter, when the pv's `inverter` names it), balanced_by (pv →
// inverter), inputs (weather → pv, flat → heat_node), packets_from (inverter → ev_charger)
// and requires (ev_charger → load_manager). Every connection has one canonical direction: the
// device that is balanced / whose report is needed / that names the other is the source.
// The manifest holds no edges: the server wires a home from the same descriptors; the canvas
// shows those relations and refuses a connection the registry does not know, with the reason.
// A reference is the one connection the manifest does hold (a property naming the device):
// it is drawn only between the devices it names, and a device naming one is balanced through
// it (no edge to its balanced_by kind).
import type { Registry } from './registry';

export interface Relation {
  source: string;
  target: string;
  /** Why the registry links them, in words. */
  why: string;
}

export type Verdict = ({ ok: true } & Relation) | { ok: false; reason: string };

export interface End {
  /** The node id (the bus name). */
  name: string;
  kind: string;
  /** The Block flat that holds it. */
  group?: string;
  /** The name in the manifest (in a flat: without the flat's prefix); `name` when absent. */
  local?: string;
  properties?: Record<string, unknown>;
}

/** The property of `a`'s kind that names a device of `b`'s kind (registry `references`). */
export function referenceProperty(reg: Registry, a: End, b: End): string | null {
  const refs = reg.get(a.kind)?.references ?? {};
  for (const [prop, kind] of Object.entries(refs)) if (kind === b.kind) return prop;
  return null;
}

/** Whether `a` names another device in one of its reference properties. */
export function namesAnother(reg: Registry, a: End): boolean {
  const refs = reg.get(a.kind)?.references ?? {};
  return Object.keys(refs).some((p) => typeof a.properties?.[p] === 'string' && a.properties[p] !== '');
}

/**
 * Whether the value `ref` of a reference property of `a` names `b`, as the server resolves it
 * (schemas/manifest.py Block.home_spec): in a flat, a device of the same flat by its local
 * name, else a device of the building by its name. `flatNames`: the local names of `a`'s flat.
 */
export function refersTo(ref: unknown, a: End, b: End, flatNames: Set<string> = new Set()): boolean {
  if (typeof ref !== 'string' || ref === '') return false;
  if (a.group && flatNames.has(ref)) return b.group === a.group && (b.local ?? b.name) === ref;
  return !b.group && b.name === ref;
}

/** The value a reference property of `a` takes to name `b` (its local name in a's flat). */
export function referenceValue(a: End, b: End): string {
  return a.group && b.group === a.group ? (b.local ?? b.name) : b.name;
}

function referenced(reg: Registry, a: End, b: End): string | null {
  const prop = referenceProperty(reg, a, b);
  if (!prop) return null;
  return `${reg.get(b.kind)!.label} converts the energy of ${reg.get(a.kind)!.label} (its ${prop})`;
}

function directed(reg: Registry, a: End, b: End): string | null {
  const ka = reg.get(a.kind);
  const kb = reg.get(b.kind);
  if (!ka || !kb) return null;
  if (ka.balanced_by === b.kind) return `${kb.label} balances ${ka.label}`;
  if (kb.inputs.includes(a.kind)) return `${kb.label} needs the report of ${ka.label}`;
  return null;
}

function secondary(reg: Registry, a: End, b: End): string | null {
  const ka = reg.get(a.kind);
  const kb = reg.get(b.kind);
  if (!ka || !kb) return null;
  if (kb.packets_from.includes(a.kind)) return `${kb.label} receives energy from ${ka.label}`;
  if (ka.requires.includes(b.kind)) return `${ka.label} requires ${kb.label}`;
  return null;
}

/** The relation between two devices, in its canonical direction, or null when there is none. */
export function relation(reg: Registry, a: End, b: End): Relation | null {
  for (const rule of [referenced, directed, secondary]) {
    const ab = rule(reg, a, b);
    if (ab) return { source: a.name, target: b.name, why: ab };
    const ba = rule(reg, b, a);
    if (ba) return { source: b.name, target: a.name, why: ba };
  }
  return null;
}

function partners(reg: Registry, kind: string): string[] {
  const out = new Set<string>();
  for (const other of reg.keys()) {
    if (relation(reg, { name: 'a', kind }, { name: 'b', kind: other })) out.add(other);
  }
  return [...out];
}

/**
 * May a user connect `a` to `b`? Refused: a device to itself, an existing connection, kinds
 * the registry does not relate (the reason lists what the source kind connects to).
 */
export function canConnect(reg: Registry, a: End, b: End, existing: Array<{ source: string; target: string }> = []): Verdict {
  if (a.name === b.name) return { ok: false, reason: 'a device cannot be connected to itself' };
  if (!reg.has(a.kind)) return { ok: false, reason: `unknown kind ${a.kind}` };
  if (!reg.has(b.kind)) return { ok: false, reason: `unknown kind ${b.kind}` };
  const rel = relation(reg, a, b);
  if (!rel) {
    const ka = reg.get(a.kind)!;
    const with_ = partners(reg, a.kind);
    return {
      ok: false,
      reason: `${ka.label} (${a.kind}) cannot be connected to ${reg.get(b.kind)!.label} (${b.kind}): ` +
        (with_.length ? `the registry connects ${a.kind} only to ${with_.join(', ')}` : `${a.kind} connects to nothing`),
    };
  }
  if (existing.some((e) => e.source === rel.source && e.target === rel.target)) {
    return { ok: false, reason: `${rel.source} and ${rel.target} are already connected` };
  }
  return { ok: true, ...rel };
}

/**
 * The connections the registry implies between `devices` (references, balanced_by, inputs,
 * packets_from): what an imported manifest shows. A device of a flat connects only within its
 * flat and to the building's devices. A reference (a pv's `inverter`) is drawn only to the
 * device it names, and that device replaces the naming device's balanced_by edge.
 */
export function impliedEdges(reg: Registry, devices: End[]): Relation[] {
  const out: Relation[] = [];
  const flatNames = new Map<string, Set<string>>();
  for (const d of devices) {
    if (!d.group) continue;
    if (!flatNames.has(d.group)) flatNames.set(d.group, new Set());
    flatNames.get(d.group)!.add(d.local ?? d.name);
  }
  const names = (x: End) => (x.group ? flatNames.get(x.group) : undefined);
  // a reference between x and y: the edge it implies (or none), or undefined when none applies
  const byReference = (x: End, y: End): Relation | null | undefined => {
    const prop = referenceProperty(reg, x, y);
    if (!prop) return undefined;
    return refersTo(x.properties?.[prop], x, y, names(x)) ? { source: x.name, target: y.name, why: referenced(reg, x, y)! } : null;
  };
  for (let i = 0; i < devices.length; i++) {
    for (let j = i + 1; j < devices.length; j++) {
      const a = devices[i];
      const b = devices[j];
      if (a.group && b.group && a.group !== b.group) continue;
      let ref = byReference(a, b);
      if (ref === undefined) ref = byReference(b, a);
      if (ref !== undefined) {
        if (ref) out.push(ref);
        continue;
      }
      for (const rule of [directed, secondaryPackets]) {
        const ab = rule(reg, a, b);
        const ba = ab ? null : rule(reg, b, a);
        const [src, why] = ab ? [a, ab] : ba ? [b, ba] : [null, null];
        if (!src || !why) continue;
        const dst = src === a ? b : a;
        // balanced through the device it names
        if (!(reg.get(src.kind)?.balanced_by === dst.kind && namesAnother(reg, src))) {
          out.push({ source: src.name, target: dst.name, why });
        }
        break;
      }
    }
  }
  return out;
}

function secondaryPackets(reg: Registry, a: End, b: End): string | null {
  const ka = reg.get(a.kind);
  const kb = reg.get(b.kind);
  if (!ka || !kb) return null;
  return kb.packets_from.includes(a.kind) ? `${kb.label} receives energy from ${ka.label}` : null;
}
