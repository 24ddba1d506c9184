// The canvas model ⇄ a Home / Block manifest (YAML). The model keeps every field it does not
// edit as it was read, so import → export gives the same manifest (semantically).
import { parse, stringify } from 'yaml';

export const API_VERSION = 'homesim.io/v1alpha1';

export interface DeviceModel {
  /** Node id: the device's name on the bus (`<flat>-<name>` in a flat, the flat's own name for its `flat` device). */
  id: string;
  /** The name in the manifest. */
  name: string;
  kind: string;
  /** The Block flat that holds it (flats[].devices), if any. */
  group?: string;
  properties: Record<string, unknown>;
  /** Other fields of the entry (enabled, flat, ...), kept as read. */
  extra: Record<string, unknown>;
  /** Whether the entry is written with a `properties` mapping even when it is empty. */
  withProperties: boolean;
}

export interface FlatModel {
  name: string;
  extra: Record<string, unknown>;
}

export interface ManifestModel {
  kind: 'Home' | 'Block';
  apiVersion: string;
  metadata: Record<string, unknown>;
  /** `spec` without devices and flats. */
  spec: Record<string, unknown>;
  /** The order of spec's keys as read (devices, flats included), for a faithful export. */
  specOrder: string[];
  /** Top-level keys other than apiVersion, kind, metadata, spec. */
  extra: Record<string, unknown>;
  flats: FlatModel[];
  devices: DeviceModel[];
}

export class ManifestParseError extends Error {
  constructor(message: string, readonly path = '(root)') {
    super(message);
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The bus name of a device of `flat` (schemas/manifest.py BlockSpec). */
export function busName(name: string, kind: string, flat?: string): string {
  if (!flat) return name;
  return kind === 'flat' ? flat : `${flat}-${name}`;
}

export function emptyModel(name = 'my-home'): ManifestModel {
  return {
    kind: 'Home', apiVersion: API_VERSION, metadata: { name },
    spec: { simulation: { start: '2025-01-01T00:00:00', duration: '1d', dt: 60, speed: 'max' } },
    specOrder: ['location', 'simulation', 'devices'], extra: {}, flats: [], devices: [],
  };
}

function readDevice(raw: unknown, path: string, group?: string): DeviceModel {
  if (!isObj(raw)) throw new ManifestParseError('a device is a mapping with name and kind', path);
  const { name, kind, properties, ...extra } = raw;
  if (typeof name !== 'string') throw new ManifestParseError('a device needs a name', `${path}.name`);
  if (typeof kind !== 'string') throw new ManifestParseError('a device needs a kind', `${path}.kind`);
  if (properties !== undefined && properties !== null && !isObj(properties)) {
    throw new ManifestParseError('properties must be a mapping', `${path}.properties`);
  }
  return {
    id: busName(name, kind, group), name, kind, group,
    properties: isObj(properties) ? structuredClone(properties) : {},
    extra: structuredClone(extra), withProperties: properties !== undefined,
  };
}

/** Read a manifest (already parsed from YAML) into the canvas model. */
export function fromManifest(data: unknown): ManifestModel {
  if (!isObj(data)) throw new ManifestParseError('a manifest is a mapping with apiVersion, kind, metadata and spec');
  const { apiVersion, kind, metadata, spec, ...extra } = data;
  if (kind !== 'Home' && kind !== 'Block') throw new ManifestParseError(`kind must be Home or Block, not ${JSON.stringify(kind)}`, 'kind');
  if (!isObj(spec)) throw new ManifestParseError('spec must be a mapping', 'spec');
  const { devices, flats, ...rest } = spec;
  const model: ManifestModel = {
    kind, apiVersion: typeof apiVersion === 'string' ? apiVersion : API_VERSION,
    metadata: isObj(metadata) ? structuredClone(metadata) : {},
    spec: structuredClone(rest), specOrder: Object.keys(spec), extra: structuredClone(extra),
    flats: [], devices: [],
  };
  if (flats !== undefined) {
    if (!Array.isArray(flats)) throw new ManifestParseError('flats must be a list', 'spec.flats');
    flats.forEach((f, i) => {
      if (!isObj(f) || typeof f.name !== 'string') throw new ManifestParseError('a flat needs a name', `spec.flats[${i}]`);
      const { name, devices: fd, ...fextra } = f;
      model.flats.push({ name, extra: structuredClone(fextra) });
      if (!Array.isArray(fd)) throw new ManifestParseError('a flat needs a list of devices', `spec.flats[${i}].devices`);
      fd.forEach((d, j) => model.devices.push(readDevice(d, `spec.flats[${i}].devices[${j}]`, name)));
    });
  }
  if (devices !== undefined && devices !== null) {
    if (!Array.isArray(devices)) throw new ManifestParseError('devices must be a list', 'spec.devices');
    devices.forEach((d, i) => model.devices.push(readDevice(d, `spec.devices[${i}]`)));
  }
  return model;
}

function writeDevice(d: DeviceModel): Obj {
  const out: Obj = { name: d.name, kind: d.kind };
  for (const [k, v] of Object.entries(d.extra)) out[k] = structuredClone(v);
  if (d.withProperties || Object.keys(d.properties).length) out.properties = structuredClone(d.properties);
  return out;
}

/** The manifest of the canvas model (a plain object, ready for YAML or JSON). */
export function toManifest(m: ManifestModel): Obj {
  const spec: Obj = {};
  const order = [...m.specOrder];
  for (const k of Object.keys(m.spec)) if (!order.includes(k)) order.push(k);
  if (m.kind === 'Block' && !order.includes('flats')) order.push('flats');
  if (!order.includes('devices')) order.push('devices');
  for (const k of order) {
    if (k === 'devices') {
      const top = m.devices.filter((d) => !d.group);
      if (top.length || m.kind === 'Home' || m.specOrder.includes('devices')) spec.devices = top.map(writeDevice);
    } else if (k === 'flats') {
      if (m.kind === 'Block' || m.flats.length) {
        spec.flats = m.flats.map((f) => ({
          name: f.name, ...structuredClone(f.extra),
          devices: m.devices.filter((d) => d.group === f.name).map(writeDevice),
        }));
      }
    } else if (k in m.spec) {
      spec[k] = structuredClone(m.spec[k]);
    }
  }
  return { apiVersion: m.apiVersion, kind: m.kind, metadata: structuredClone(m.metadata), ...structuredClone(m.extra), spec };
}

/** Parse YAML text into the canvas model. @throws ManifestParseError */
export function importYaml(text: string): ManifestModel {
  let data: unknown;
  try {
    data = parse(text, { maxAliasCount: 100 });
  } catch (e) {
    throw new ManifestParseError(`not YAML: ${(e as Error).message}`);
  }
  return fromManifest(data);
}

/**
 * The canvas model as YAML text. Written for YAML 1.1 readers (the server reads manifests
 * with PyYAML): strings such as "17:00", "2025-01-01T00:00:00" or "on" are quoted, so they
 * stay strings there.
 */
export function exportYaml(m: ManifestModel): string {
  return stringify(toManifest(m), { lineWidth: 100, version: '1.1' });
}

/** A device name not yet used in the model, derived from the kind (DNS label). */
export function freshName(m: ManifestModel, kind: string, group?: string): string {
  const base = kind.replace(/_/g, '-');
  if (kind === 'flat' && group) return 'rooms'; // a flat's zone takes the flat's name on the bus
  const taken = new Set(m.devices.map((d) => d.id));
  for (let i = 1; ; i++) {
    const name = i === 1 ? base : `${base}-${i}`;
    if (!taken.has(busName(name, kind, group))) return name;
  }
}
