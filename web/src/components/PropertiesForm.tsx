// The form of one device, generated from its kind's JSON Schema: units shown and accepted,
// defaults, enums, limits and descriptions; errors under the field with their manifest path.
import { useEffect, useState } from 'react';
import { parse, stringify } from 'yaml';
import { useBuilder } from '../store';
import { useRun } from '../runStore';
import { nonNull, type JsonSchema } from '../lib/registry';
import { describeUnit, exampleOf, humanise, QuantityError, toUnit } from '../lib/units';
import { devicePath, type FieldError } from '../lib/validate';
import homeSchema from '../generated/home.schema.json';
import blockSchema from '../generated/block.schema.json';

function limits(s: JsonSchema): string {
  const parts: string[] = [];
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
  return parts.join(', ');
}

const show = (v: unknown) => (v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** The options of an enum: `enum`, or `anyOf`/`oneOf` of consts. */
function options(s: JsonSchema): unknown[] | null {
  if (s.enum) return s.enum;
  const alts = s.anyOf ?? s.oneOf;
  if (alts && alts.every((a) => a.const !== undefined)) return alts.map((a) => a.const);
  return null;
}

interface FieldProps {
  /** The property's name (and the input's data-field). */
  name: string;
  onSet(value: unknown): void;
  /** Sets the current value on the running device (x-live properties). */
  onLive?: () => Promise<string>;
  schema: JsonSchema;
  root: JsonSchema;
  value: unknown;
  errors: FieldError[];
  live: boolean;
  errPath: string;
}

/** Entry for a scalar property; a plain number is in the property's unit, "10 kWh" is converted. */
export function Field({ name, onSet, onLive, schema, root, value, errors, live, errPath }: FieldProps) {
  const { schema: s, nullable } = nonNull(schema, root);
  const unit = (schema['x-unit'] ?? s['x-unit']) as string | undefined;
  const running = useRun((r) => r.bus !== null);
  const [text, setText] = useState(show(value));
  const [note, setNote] = useState<string | null>(null);
  useEffect(() => setText(show(value)), [value]);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  const opts = options(s);
  const desc = (schema.description ?? s.description) as string | undefined;

  // an object with known properties: one field per property (`name.sub`), same rules
  const obj = value === undefined || value === null || (typeof value === 'object' && !Array.isArray(value));
  if (s.properties && (type === 'object' || !type) && obj) {
    const cur = (value ?? {}) as Record<string, unknown>;
    const setSub = (k: string, v: unknown) => {
      const next = { ...cur };
      if (v === undefined) delete next[k];
      else next[k] = v;
      onSet(Object.keys(next).length ? next : nullable ? undefined : {});
    };
    return (
      <fieldset className="field-group" data-group={name} title={desc}>
        <legend>
          <span className="field-title">{name}</span>
          {live && <span className="field-live" title="x-live: can be set while the home runs">live</span>}
          {live && running && onLive && <button type="button" onClick={async () => { try { setNote(await onLive()); } catch (e) { setNote(`live set failed: ${(e as Error).message}`); } }} data-testid={`set-live-${name}`}>set live</button>}
        </legend>
        {desc && <div className="field-hint">{desc}{nullable ? ' (optional: leave empty for none)' : ''}</div>}
        {note && <div className="field-note">{note}</div>}
        {errors.filter((e) => (e.path === errPath || e.path.startsWith(`${errPath}.`) || e.path.startsWith(`${errPath}[`))
          && !Object.keys(s.properties ?? {}).some((k) => e.path === `${errPath}.${k}` || e.path.startsWith(`${errPath}.${k}.`) || e.path.startsWith(`${errPath}.${k}[`)))
          .map((e) => <div key={e.path + e.message} className="field-error" data-error-for={e.path}>{e.path}: {e.message}</div>)}
        {Object.entries(s.properties).map(([k, ks]) => (
          <Field key={k} name={`${name}.${k}`} schema={ks} root={root} value={cur[k]} errors={errors} live={false}
            errPath={`${errPath}.${k}`} onSet={(v) => setSub(k, v)} />
        ))}
      </fieldset>
    );
  }

  const commit = (raw: string) => {
    setNote(null);
    if (raw.trim() === '') return onSet(nullable && value === null ? null : undefined);
    if (type === 'number' || type === 'integer') {
      if (unit) {
        try {
          const v = toUnit(raw, unit);
          if (raw.trim() !== String(v)) setNote(`${raw.trim()} = ${v} ${unit}`);
          return onSet(v);
        } catch (e) {
          if (!(e instanceof QuantityError)) throw e;
          return onSet(raw); // kept as typed: validation names the error
        }
      }
      const n = Number(raw);
      return onSet(raw.trim() !== '' && Number.isFinite(n) ? n : raw);
    }
    if (type === 'object' || type === 'array' || (!type && !opts)) {
      try {
        return onSet(parse(raw));
      } catch {
        return onSet(raw);
      }
    }
    return onSet(raw);
  };

  const setLive = async () => {
    try {
      if (onLive) setNote(await onLive());
    } catch (e) {
      setNote(`live set failed: ${(e as Error).message}`);
    }
  };

  let input;
  if (type === 'boolean') {
    input = (
      <select data-field={name} value={value === undefined ? '' : String(value)} onChange={(e) => onSet(e.target.value === '' ? undefined : e.target.value === 'true')}>
        <option value="">default ({show(s.default)})</option>
        <option value="true">true</option>
        <option value="false">false</option>
      </select>
    );
  } else if (opts) {
    input = (
      <select data-field={name} value={value === undefined ? '' : show(value)} onChange={(e) => onSet(e.target.value === '' ? undefined : opts.find((o) => show(o) === e.target.value))}>
        <option value="">default ({show(s.default)})</option>
        {opts.map((o) => <option key={show(o)} value={show(o)}>{show(o)}</option>)}
      </select>
    );
  } else if (type === 'object' || type === 'array' || (!type && (s.properties || s.items))) {
    const yamlText = value === undefined ? '' : stringify(value, { version: '1.1' }).trim();
    input = (
      <textarea
        data-field={name}
        rows={Math.min(8, Math.max(2, yamlText.split('\n').length))}
        defaultValue={yamlText}
        key={yamlText}
        placeholder={s.default !== undefined ? `default: ${show(s.default)}` : 'YAML'}
        onBlur={(e) => commit(e.target.value)}
      />
    );
  } else {
    input = (
      <input
        data-field={name}
        value={text}
        placeholder={s.default !== undefined && s.default !== null ? `${show(s.default)}${unit ? ` ${unit}` : ''}` : unit ? `e.g. ${exampleOf(unit)}` : ''}
        onChange={(e) => setText(e.target.value)}
        onBlur={(e) => commit(e.target.value)}
        onKeyDown={(e) => e.key === 'Enter' && commit((e.target as HTMLInputElement).value)}
      />
    );
  }
  const mine = errors.filter((e) => e.path === errPath || e.path.startsWith(`${errPath}.`) || e.path.startsWith(`${errPath}[`));
  return (
    <div className={`field${mine.length ? ' has-error' : ''}`}>
      <label title={desc}>
        <span className="field-title" title={s.title}>{name}</span>
        {unit && <span className="field-unit" title={describeUnit(unit)}>[{unit}]</span>}
        {live && <span className="field-live" title="x-live: can be set while the home runs">live</span>}
      </label>
      <div className="field-input">
        {input}
        {live && running && onLive && <button type="button" onClick={setLive} data-testid={`set-live-${name}`}>set live</button>}
      </div>
      <div className="field-hint">
        {typeof value === 'number' && unit && ['J', 'W', 's'].includes(unit) && <span>= {humanise(value, unit)}. </span>}
        {limits(s) && <span>{limits(s)}. </span>}
        {desc && <span>{desc}</span>}
      </div>
      {note && <div className="field-note">{note}</div>}
      {mine.map((e) => (
        <div key={e.path + e.message} className="field-error" data-error-for={e.path}>{e.path}: {e.message}</div>
      ))}
    </div>
  );
}

export function PropertiesForm({ errors }: { errors: FieldError[] }) {
  const model = useBuilder((s) => s.model);
  const reg = useBuilder((s) => s.registry);
  const selected = useBuilder((s) => s.selected);
  const d = model.devices.find((x) => x.id === selected);
  const [name, setName] = useState(d?.name ?? '');
  useEffect(() => setName(d?.name ?? ''), [d?.name, d?.id]);
  if (!d) return <HomeSettings errors={errors} />;
  const k = reg.get(d.kind);
  const base = devicePath(model, d.id);
  const schema = k?.properties_schema ?? { properties: {} };
  const own = errors.filter((e) => e.path === base || e.path === `${base}.name` || e.path === `${base}.kind` || e.path === `${base}.properties`);
  return (
    <section className="form" data-testid="properties-form" data-device={d.id}>
      <h2>{d.id} <small>{k?.label ?? d.kind}</small></h2>
      {k && <p className="kind-desc">{k.description}</p>}
      <div className="field">
        <label><span className="field-title">name</span></label>
        <input
          data-field="name"
          value={name}
          onChange={(e) => setName(e.target.value)}
          onBlur={() => useBuilder.getState().rename(d.id, name.trim())}
          onKeyDown={(e) => e.key === 'Enter' && useBuilder.getState().rename(d.id, name.trim())}
        />
      </div>
      <div className="field">
        <label><span className="field-title">enabled</span></label>
        <input type="checkbox" data-field="enabled" checked={d.extra.enabled !== false} onChange={(e) => useBuilder.getState().setField(d.id, 'enabled', e.target.checked)} />
      </div>
      {own.map((e) => <div key={e.path + e.message} className="field-error" data-error-for={e.path}>{e.path}: {e.message}</div>)}
      {Object.entries(schema.properties ?? {}).map(([p, ps]) => (
        <Field key={`${d.id}/${p}`} name={p} schema={ps}
          onSet={(v) => useBuilder.getState().setProperty(d.id, p, v)}
          onLive={() => useRun.getState().setLive(d.id, p, useBuilder.getState().model.devices.find((x) => x.id === d.id)?.properties[p])} root={schema} value={d.properties[p]} errors={errors}
          live={k?.live.includes(p) ?? false} errPath={`${base}.properties.${p}`} />
      ))}
      {Object.keys(d.properties).filter((p) => !(p in (schema.properties ?? {}))).map((p) => {
        const path = `${base}.properties.${p}`;
        return (
          <div key={p} className="field has-error">
            <label><span className="field-title">{p}</span></label>
            <button type="button" onClick={() => useBuilder.getState().setProperty(d.id, p, undefined)}>remove unknown property</button>
            {errors.filter((e) => e.path === path).map((e) => <div key={e.message} className="field-error" data-error-for={e.path}>{e.path}: {e.message}</div>)}
          </div>
        );
      })}
    </section>
  );
}

/** The home's own settings (spec.simulation, spec.location), from the manifest schema. */
function HomeSettings({ errors }: { errors: FieldError[] }) {
  const model = useBuilder((s) => s.model);
  const root = (model.kind === 'Block' ? blockSchema : homeSchema) as JsonSchema;
  const section = (key: 'simulation' | 'location', def: string) => {
    const schema = (root.$defs?.[def] ?? {}) as JsonSchema;
    const value = (model.spec[key] ?? {}) as Record<string, unknown>;
    const set = (p: string, v: unknown) => {
      const next = { ...((useBuilder.getState().model.spec[key] ?? {}) as Record<string, unknown>) };
      if (v === undefined) delete next[p];
      else next[p] = v;
      useBuilder.getState().setSpec(key, Object.keys(next).length || key === 'simulation' ? next : undefined);
    };
    return (
      <fieldset key={key}>
        <legend>{key}</legend>
        {Object.entries(schema.properties ?? {}).map(([p, ps]) => (
          <Field key={`${key}.${p}`} name={`${key}.${p}`} schema={ps} root={root} value={value[p]} errors={errors}
            live={false} errPath={`spec.${key}.${p}`} onSet={(v) => set(p, v)} />
        ))}
      </fieldset>
    );
  };
  return (
    <section className="form" data-testid="home-settings">
      <p className="kind-desc">Select a device to edit its properties. Drag kinds from the palette; connect devices by dragging from one node's handle to another's.</p>
      <h2>{model.kind} {String(model.metadata.name ?? '')}</h2>
      {section('simulation', 'Simulation')}
      {section('location', 'Location')}
    </section>
  );
}
