// Which devices may be connected, derived from the kinds' descriptors (x-homesim-kind):
// balanced_by (pv → inverter), inputs (weather → pv, flat → heat_node), packets_from
// (inverter → ev_charger) and requires (ev_charger → load_manager). Every connection has one
// canonical direction: the device that is balanced / whose report is needed is the source.
// The manifest holds no edges: the server wires a home from the same descriptors; the canvas
// shows those relations and refuses a connection the registry does not know, with the reason.
import type { Registry } from './registry';

export interface Relation {
  source: string;
  target: string;
  /** Why the registry links them, in words. */
  why: string;
}

export type Verdict = ({ ok: true } & Relation) | { ok: false; reason: string };

interface End {
  name: string;
  kind: string;
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
  for (const rule of [directed, secondary]) {
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
 * The connections the registry implies between `devices` (balanced_by, inputs, packets_from):
 * what an imported manifest shows. A device of a flat connects only within its flat and to
 * the building's devices.
 */
export function impliedEdges(reg: Registry, devices: Array<End & { group?: string }>): Relation[] {
  const out: Relation[] = [];
  for (let i = 0; i < devices.length; i++) {
    for (let j = i + 1; j < devices.length; j++) {
      const a = devices[i];
      const b = devices[j];
      if (a.group && b.group && a.group !== b.group) continue;
      for (const rule of [directed, secondaryPackets]) {
        const ab = rule(reg, a, b);
        const ba = ab ? null : rule(reg, b, a);
        if (ab) out.push({ source: a.name, target: b.name, why: ab });
        else if (ba) out.push({ source: b.name, target: a.name, why: ba });
        if (ab || ba) break;
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
