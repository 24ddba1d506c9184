// One store for the builder (zustand): the manifest model, the connections and the
// selection; undo/redo is the zundo middleware over the model and the connections. Node
// positions live beside them (not in the history: undoing a deletion brings the node back
// where it was).
import { create } from 'zustand';
import { temporal } from 'zundo';
import { BUNDLED, type Registry } from './lib/registry';
import { busName, emptyModel, freshName, type DeviceModel, type ManifestModel } from './lib/manifest';
import { canConnect, impliedEdges, referenceProperty, referenceValue, type End, type Relation } from './lib/rules';

export interface XY {
  x: number;
  y: number;
}

export interface BuilderState {
  registry: Registry;
  model: ManifestModel;
  edges: Relation[];
  positions: Record<string, XY>;
  selected: string | null;
  clipboard: DeviceModel[];
  /** The last refusal or notice (a connection refused, a paste renamed ...). */
  message: { text: string; kind: 'error' | 'info' } | null;

  setRegistry(r: Registry): void;
  load(m: ManifestModel): void;
  addDevice(kind: string, at: XY, group?: string): string;
  remove(ids: string[]): void;
  connect(a: string, b: string): boolean;
  disconnect(source: string, target: string): void;
  select(id: string | null): void;
  setProperty(id: string, name: string, value: unknown): void;
  setField(id: string, field: 'enabled' | 'flat', value: unknown): void;
  rename(id: string, name: string): void;
  setMeta(name: string): void;
  setSpec(key: string, value: unknown): void;
  move(id: string, at: XY): void;
  setPositions(p: Record<string, XY>): void;
  copy(ids: string[]): void;
  paste(): void;
  notify(text: string, kind?: 'error' | 'info'): void;
}

/** ``model`` with device ``id`` replaced by ``change(device)`` (the others as they are). */
const updateDevice = (model: ManifestModel, id: string, change: (d: DeviceModel) => DeviceModel): ManifestModel => ({
  ...model,
  devices: model.devices.map((d) => (d.id === id ? change(d) : d)),
});

const end = (d: DeviceModel): End => ({ name: d.id, kind: d.kind, group: d.group, local: d.name, properties: d.properties });
const ends = (m: ManifestModel) => m.devices.map(end);

/**
 * The edges after device `id`'s reference properties changed (registry `references`): its
 * edges to the kinds it may name and to its balanced_by kind are those the manifest now
 * implies (the device it names, or the balancer when it names none); other edges stay.
 */
function rewire(reg: Registry, model: ManifestModel, edges: Relation[], id: string): Relation[] {
  const d = model.devices.find((x) => x.id === id);
  const k = d && reg.get(d.kind);
  if (!d || !k?.references || !Object.keys(k.references).length) return edges;
  const kinds = new Set([...Object.values(k.references), k.balanced_by ?? '']);
  const kindOf = new Map(model.devices.map((x) => [x.id, x.kind]));
  const touched = (e: Relation) => e.source === id && kinds.has(kindOf.get(e.target) ?? '');
  const implied = impliedEdges(reg, ends(model)).filter(touched);
  return [...edges.filter((e) => !touched(e)), ...implied];
}

/** The reference property of `d` naming `other` (and the value it takes), if any. */
function referenceTo(reg: Registry, d: DeviceModel, other: DeviceModel): { prop: string; value: string } | null {
  const prop = referenceProperty(reg, end(d), end(other));
  return prop ? { prop, value: referenceValue(end(d), end(other)) } : null;
}

/** `d` with property `name` set to `value` (removed when undefined). */
const withProperty = (d: DeviceModel, name: string, value: unknown): DeviceModel => {
  const properties = { ...d.properties };
  if (value === undefined) delete properties[name];
  else properties[name] = value;
  return { ...d, properties };
};

export const useBuilder = create<BuilderState>()(
  temporal(
    (set, get) => ({
      registry: BUNDLED,
      model: emptyModel(),
      edges: [],
      positions: {},
      selected: null,
      clipboard: [],
      message: null,

      setRegistry: (registry) => set({ registry }),

      load: (model) => set({ model, edges: impliedEdges(get().registry, ends(model)), selected: null, message: null }),

      addDevice: (kind, at, group) => {
        const { model, positions } = get();
        const name = freshName(model, kind, group);
        const d: DeviceModel = { id: busName(name, kind, group), name, kind, group, properties: {}, extra: {}, withProperties: false };
        set({
          model: { ...model, devices: [...model.devices, d] },
          positions: { ...positions, [d.id]: at },
          selected: d.id,
          message: null,
        });
        return d.id;
      },

      remove: (ids) => {
        const { model, edges, selected } = get();
        const gone = new Set(ids);
        // removing a flat group removes its devices
        const flats = model.flats.filter((f) => gone.has(`flat:${f.name}`)).map((f) => f.name);
        for (const d of model.devices) if (d.group && flats.includes(d.group)) gone.add(d.id);
        const { registry } = get();
        // a reference to a removed device (a pv's inverter) goes with it
        const cleared: string[] = [];
        const devices = model.devices.filter((d) => !gone.has(d.id)).map((d) => {
          let x = d;
          for (const g of model.devices.filter((o) => gone.has(o.id))) {
            const ref = referenceTo(registry, x, g);
            if (ref && x.properties[ref.prop] === ref.value) x = withProperty(x, ref.prop, undefined);
          }
          if (x !== d) cleared.push(d.id);
          return x;
        });
        const m2: ManifestModel = { ...model, flats: model.flats.filter((f) => !flats.includes(f.name)), devices };
        let e2 = edges.filter((e) => !gone.has(e.source) && !gone.has(e.target));
        for (const id of cleared) e2 = rewire(registry, m2, e2, id);
        set({
          model: m2,
          edges: e2,
          selected: selected && gone.has(selected) ? null : selected,
        });
      },

      connect: (a, b) => {
        const { model, edges, registry } = get();
        const da = model.devices.find((d) => d.id === a);
        const db = model.devices.find((d) => d.id === b);
        if (!da || !db) return false;
        if (da.group && db.group && da.group !== db.group) {
          set({ message: { text: `${a} and ${b} are in different flats: a flat's devices connect within their flat and to the building's`, kind: 'error' } });
          return false;
        }
        const v = canConnect(registry, { name: a, kind: da.kind }, { name: b, kind: db.kind }, edges);
        if (!v.ok) {
          set({ message: { text: v.reason, kind: 'error' } });
          return false;
        }
        const message = { text: `connected ${v.source} → ${v.target}: ${v.why}`, kind: 'info' as const };
        const src = v.source === a ? da : db;
        const dst = v.source === a ? db : da;
        const ref = referenceTo(registry, src, dst);
        const k = registry.get(src.kind);
        const refs = Object.keys(k?.references ?? {});
        if (ref || (refs.length > 0 && k?.balanced_by === dst.kind)) {
          // a reference is written into the manifest (a pv's inverter); connecting a device
          // that names one to its balancer clears it
          const next = ref ? withProperty(src, ref.prop, ref.value)
            : refs.reduce((x, p) => withProperty(x, p, undefined), src);
          const m2 = updateDevice(model, src.id, () => next);
          set({ model: m2, edges: rewire(registry, m2, edges, src.id), message });
          return true;
        }
        set({ edges: [...edges, { source: v.source, target: v.target, why: v.why }], message });
        return true;
      },

      disconnect: (source, target) => {
        const { model, edges, registry } = get();
        const ds = model.devices.find((d) => d.id === source);
        const dt = model.devices.find((d) => d.id === target);
        const ref = ds && dt ? referenceTo(registry, ds, dt) : null;
        if (ds && ref && ds.properties[ref.prop] !== undefined) {
          // the reference goes: the device is balanced by its balancer again
          const m2 = updateDevice(model, ds.id, (d) => withProperty(d, ref.prop, undefined));
          set({ model: m2, edges: rewire(registry, m2, edges, ds.id) });
          return;
        }
        set({ edges: edges.filter((e) => !(e.source === source && e.target === target)) });
      },

      select: (selected) => set({ selected }),

      setProperty: (id, name, value) => {
        const { model, edges, registry } = get();
        const m2 = updateDevice(model, id, (d) => withProperty(d, name, value));
        const kind = model.devices.find((d) => d.id === id)?.kind ?? '';
        const isRef = name in (registry.get(kind)?.references ?? {});
        set(isRef ? { model: m2, edges: rewire(registry, m2, edges, id) } : { model: m2 });
      },

      setField: (id, field, value) => {
        const { model } = get();
        set({
          model: updateDevice(model, id, (d) => {
            const extra = { ...d.extra };
            if (value === undefined || value === '' || (field === 'enabled' && value === true && !('enabled' in d.extra))) delete extra[field];
            else extra[field] = value;
            return { ...d, extra };
          }),
        });
      },

      rename: (id, name) => {
        const { model, edges, positions, selected } = get();
        const d = model.devices.find((x) => x.id === id);
        if (!d || d.name === name) return;
        const nid = busName(name, d.kind, d.group);
        if (nid !== id && model.devices.some((x) => x.id === nid)) {
          set({ message: { text: `a device called ${nid} exists already`, kind: 'error' } });
          return;
        }
        const ren = (x: string) => (x === id ? nid : x);
        const { [id]: pos, ...rest } = positions;
        const { registry } = get();
        // references to it (a pv's inverter) follow the new name
        const follow = (x: DeviceModel): DeviceModel => {
          const ref = x.id !== id ? referenceTo(registry, x, d) : null;
          if (!ref || x.properties[ref.prop] !== ref.value) return x;
          return withProperty(x, ref.prop, referenceValue(end(x), end({ ...d, name, id: nid })));
        };
        set({
          model: { ...model, devices: model.devices.map((x) => (x.id === id ? { ...x, name, id: nid } : follow(x))) },
          edges: edges.map((e) => ({ ...e, source: ren(e.source), target: ren(e.target) })),
          positions: pos ? { ...rest, [nid]: pos } : positions,
          selected: selected === id ? nid : selected,
        });
      },

      setMeta: (name) => set({ model: { ...get().model, metadata: { ...get().model.metadata, name } } }),

      setSpec: (key, value) => {
        const { model } = get();
        const spec = { ...model.spec };
        if (value === undefined) delete spec[key];
        else spec[key] = value;
        set({ model: { ...model, spec } });
      },

      move: (id, at) => set({ positions: { ...get().positions, [id]: at } }),

      setPositions: (p) => set({ positions: { ...get().positions, ...p } }),

      copy: (ids) => {
        const devs = get().model.devices.filter((d) => ids.includes(d.id));
        set({ clipboard: structuredClone(devs), message: devs.length ? { text: `copied ${devs.length} device(s)`, kind: 'info' } : null });
      },

      paste: () => {
        const { clipboard, positions } = get();
        let model = get().model;
        const pos = { ...positions };
        const ids: string[] = [];
        for (const c of clipboard) {
          const group = c.group && model.flats.some((f) => f.name === c.group) ? c.group : undefined;
          const name = freshName(model, c.name.replace(/-\d+$/, '') || c.kind, group);
          const d: DeviceModel = { ...structuredClone(c), name, group, id: busName(name, c.kind, group) };
          model = { ...model, devices: [...model.devices, d] };
          const p = positions[c.id] ?? { x: 0, y: 0 };
          pos[d.id] = { x: p.x + 40, y: p.y + 40 };
          ids.push(d.id);
        }
        if (ids.length) set({ model, positions: pos, selected: ids[ids.length - 1] });
      },

      notify: (text, kind = 'info') => set({ message: { text, kind } }),
    }),
    {
      partialize: (s) => ({ model: s.model, edges: s.edges }),
      limit: 200,
      equality: (a, b) => a.model === b.model && a.edges === b.edges,
    },
  ),
);

export const undo = () => useBuilder.temporal.getState().undo();
export const redo = () => useBuilder.temporal.getState().redo();
