// Live validation in the page: the Home / Block JSON Schema (generated from schemas/manifest.py
// by `python -m homesim.schemas.regen`) checked with ajv, after quantities with units are
// converted as the server converts them, plus the kinds' limits and requirements from the
// registry. It only helps the user: `POST /api/validate` (the rules of `homesim validate`)
// decides before a run.
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import homeSchema from '../generated/home.schema.json';
import blockSchema from '../generated/block.schema.json';
import { deref, nonNull, type JsonSchema, type Registry } from './registry';
import { toManifest, type ManifestModel } from './manifest';
import { QuantityError, toUnit } from './units';

export interface FieldError {
  /** The field path as `homesim validate` prints it: `spec.devices[3].properties.capacity`. */
  path: string;
  message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

// ajv implements `discriminator` without `mapping` (pydantic writes both; the oneOf branches
// carry the same information), which turns one error per union branch into the branch's own.
function forAjv(schema: unknown): JsonSchema {
  return JSON.parse(JSON.stringify(schema), (k, v) =>
    k === 'discriminator' && isObj(v) && v.mapping ? { propertyName: v.propertyName } : v);
}

let compiled: { Home: ValidateFunction; Block: ValidateFunction } | null | undefined;
let ajv: Ajv2020 | null = null;
const pluginValidators = new Map<string, ValidateFunction | null>();

/** The kinds the bundled manifest schema knows (plugin kinds from GET /api/kinds are not in it). */
const SCHEMA_KINDS = new Set(Object.keys(((homeSchema as JsonSchema).$defs ?? {}) as Record<string, unknown>)
  .filter((k) => k.endsWith('Device'))
  .map((k) => k.replace(/Device$/, '').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase()));

function pluginValidator(kind: string, schema: JsonSchema): ValidateFunction | null {
  if (!pluginValidators.has(kind)) {
    try {
      pluginValidators.set(kind, ajv ? ajv.compile(forAjv(schema)) : null);
    } catch {
      pluginValidators.set(kind, null);
    }
  }
  return pluginValidators.get(kind) ?? null;
}

function validators(): { Home: ValidateFunction; Block: ValidateFunction } | null {
  if (compiled === undefined) {
    try {
      ajv = new Ajv2020({ strict: false, allErrors: true, discriminator: true, validateFormats: false });
      compiled = { Home: ajv.compile(forAjv(homeSchema)), Block: ajv.compile(forAjv(blockSchema)) };
    } catch (e) {
      // e.g. a Content-Security-Policy without 'unsafe-eval': the server still validates
      console.warn('client-side validation unavailable:', e);
      compiled = null;
    }
  }
  return compiled;
}

/**
 * `value` (data of `schema`) with every quantity written as text on a property with a unit
 * (`x-unit`) converted to that unit, recursing into objects and lists; texts that do not
 * convert are kept (validation refuses them) and reported in `errors`.
 */
export function normaliseUnits(schema: JsonSchema, value: unknown, root: JsonSchema = schema, path = '', errors: FieldError[] = []): unknown {
  const { schema: s } = nonNull(schema, root);
  if (Array.isArray(value) && s.items) {
    return value.map((v, i) => normaliseUnits(s.items!, v, root, `${path}[${i}]`, errors));
  }
  if (!isObj(value) || !s.properties) return value;
  const out: Obj = { ...value };
  for (const [k, v] of Object.entries(value)) {
    const ps = s.properties[k];
    if (!ps) continue;
    const p = nonNull(ps, root).schema;
    const unit = ps['x-unit'] ?? p['x-unit'];
    const sub = path ? `${path}.${k}` : k;
    if (typeof unit === 'string' && typeof v === 'string') {
      try {
        out[k] = toUnit(v, unit);
      } catch (e) {
        if (e instanceof QuantityError) errors.push({ path: sub, message: e.message });
        else throw e;
      }
    } else {
      out[k] = normaliseUnits(ps, v, root, sub, errors);
    }
  }
  return out;
}

function ajvPath(instancePath: string): string {
  let out = '';
  for (const part of instancePath.split('/').slice(1)) {
    const p = part.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(p) ? `[${p}]` : (out ? '.' : '') + p;
  }
  return out || '(root)';
}

function explain(e: ErrorObject): FieldError {
  const base = ajvPath(e.instancePath);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { path: `${base === '(root)' ? '' : base + '.'}${String(p.additionalProperty)}`, message: `unknown field ${JSON.stringify(p.additionalProperty)}` };
    case 'required':
      return { path: `${base === '(root)' ? '' : base + '.'}${String(p.missingProperty)}`, message: 'field required' };
    case 'enum':
      return { path: base, message: `must be one of ${(p.allowedValues as unknown[]).map((x) => JSON.stringify(x)).join(', ')}` };
    case 'const':
      return { path: base, message: `must be ${JSON.stringify(p.allowedValue)}` };
    case 'discriminator':
      return { path: `${base}.kind`, message: 'unknown kind' };
    default:
      return { path: base, message: e.message ?? e.keyword };
  }
}

/** Unique names, kinds' limits (max/min per home, max per flat) and requirements. */
export function topologyErrors(m: ManifestModel, reg: Registry): FieldError[] {
  const errs: FieldError[] = [];
  const pathOf = new Map<string, string>();
  const topIdx = new Map<string, number>();
  m.devices.filter((d) => !d.group).forEach((d, i) => topIdx.set(d.id, i));
  for (const d of m.devices) {
    if (!d.group) pathOf.set(d.id, `spec.devices[${topIdx.get(d.id)}]`);
    else {
      const fi = m.flats.findIndex((f) => f.name === d.group);
      const di = m.devices.filter((x) => x.group === d.group).indexOf(d);
      pathOf.set(d.id, `spec.flats[${fi}].devices[${di}]`);
    }
  }
  const seen = new Map<string, string>();
  for (const d of m.devices) {
    const prev = seen.get(d.id);
    if (prev) errs.push({ path: `${pathOf.get(d.id)}.name`, message: `device names must be unique: ${d.id} (also ${prev})` });
    else seen.set(d.id, pathOf.get(d.id)!);
    if (!reg.has(d.kind)) errs.push({ path: `${pathOf.get(d.id)}.kind`, message: `unknown kind ${JSON.stringify(d.kind)} (kinds: ${[...reg.keys()].join(', ')})` });
  }
  const on = m.devices.filter((d) => d.extra.enabled !== false);
  const byKind = new Map<string, typeof on>();
  for (const d of on) byKind.set(d.kind, [...(byKind.get(d.kind) ?? []), d]);
  for (const [kind, k] of reg) {
    const list = byKind.get(kind) ?? [];
    if (k.limits.max_per_home !== null && list.length > k.limits.max_per_home) {
      for (const d of list.slice(k.limits.max_per_home)) {
        errs.push({ path: pathOf.get(d.id)!, message: `a home has at most ${k.limits.max_per_home} enabled ${kind} device(s); disable or remove this one` });
      }
    }
    if (list.length < k.limits.min_per_home) {
      errs.push({ path: 'spec.devices', message: `a home needs ${k.limits.min_per_home} enabled ${kind} device(s) (${k.label})` });
    }
    if (list.length) {
      const missing = k.requires.filter((r) => !byKind.has(r));
      if (missing.length) errs.push({ path: pathOf.get(list[0].id)!, message: `${kind} devices need an enabled ${missing.join(' and ')} device` });
    }
  }
  return errs;
}

/** Every error the page can find in the model, each with its field path. */
export function validateModel(m: ManifestModel, reg: Registry): FieldError[] {
  const doc = toManifest(m);
  const errs: FieldError[] = [];
  // quantities with units, per device, with the kind's properties schema
  const fix = (list: unknown, base: string) => {
    if (!Array.isArray(list)) return;
    list.forEach((d: unknown, i) => {
      if (!isObj(d) || !isObj(d.properties) || typeof d.kind !== 'string') return;
      const k = reg.get(d.kind);
      if (k) d.properties = normaliseUnits(k.properties_schema, d.properties, k.properties_schema, `${base}[${i}].properties`, errs);
    });
  };
  const spec = doc.spec as Obj;
  fix(spec.devices, 'spec.devices');
  if (Array.isArray(spec.flats)) spec.flats.forEach((f, i) => isObj(f) && fix(f.devices, `spec.flats[${i}].devices`));
  const v = validators();
  if (v) {
    // a plugin kind's entry is checked against its own properties schema (from the registry)
    const plugins = m.devices.filter((d) => !SCHEMA_KINDS.has(d.kind) && reg.has(d.kind));
    const pluginPaths = plugins.map((d) => devicePath(m, d.id));
    const fn = m.kind === 'Block' ? v.Block : v.Home;
    if (!fn(doc)) {
      for (const e of fn.errors ?? []) {
        const fe = explain(e);
        if (pluginPaths.some((p) => fe.path === p || fe.path.startsWith(`${p}.`) || fe.path.startsWith(`${p}[`))) continue;
        if (!errs.some((x) => x.path === fe.path && x.message === fe.message)) errs.push(fe);
      }
    }
    plugins.forEach((d, i) => {
      const pv = pluginValidator(d.kind, reg.get(d.kind)!.properties_schema);
      const props = normaliseUnits(reg.get(d.kind)!.properties_schema, d.properties);
      if (pv && !pv(props)) {
        for (const e of pv.errors ?? []) {
          const fe = explain(e);
          errs.push({ path: `${pluginPaths[i]}.properties${fe.path === '(root)' ? '' : `.${fe.path}`}`, message: fe.message });
        }
      }
    });
  }
  errs.push(...topologyErrors(m, reg));
  return errs;
}

/** The manifest path of a device's entry (`spec.devices[2]`, `spec.flats[0].devices[1]`). */
export function devicePath(m: ManifestModel, id: string): string {
  const d = m.devices.find((x) => x.id === id);
  if (!d) return '';
  if (!d.group) return `spec.devices[${m.devices.filter((x) => !x.group).indexOf(d)}]`;
  const fi = m.flats.findIndex((f) => f.name === d.group);
  return `spec.flats[${fi}].devices[${m.devices.filter((x) => x.group === d.group).indexOf(d)}]`;
}

export { deref };
