// Quantities with units, as manifests accept them (schemas/quantities.py): "10 kWh" on a [J]
// property is 36000000, "5 kW" on a [W] property 5000, "15 min" on [s] 900. A plain number is
// already in the property's unit. The server converts the same way; the form converts on entry
// so the manifest holds plain SI numbers, as the examples do.

/** A unit: its factor to the reference unit, an offset (temperatures), and its dimension. */
interface UnitDef {
  factor: number;
  offset?: number;
  dim: string;
}

const PREFIX: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, m: 1e-3, c: 1e-2 };

// reference units per dimension: J, W, s, m, m2, m3, K (absolute), 1
const BASE: Record<string, UnitDef> = {
  J: { factor: 1, dim: 'energy' },
  Wh: { factor: 3600, dim: 'energy' },
  cal: { factor: 4.184, dim: 'energy' },
  W: { factor: 1, dim: 'power' },
  s: { factor: 1, dim: 'time' },
  sec: { factor: 1, dim: 'time' },
  min: { factor: 60, dim: 'time' },
  mins: { factor: 60, dim: 'time' },
  h: { factor: 3600, dim: 'time' },
  hr: { factor: 3600, dim: 'time' },
  hrs: { factor: 3600, dim: 'time' },
  hour: { factor: 3600, dim: 'time' },
  hours: { factor: 3600, dim: 'time' },
  d: { factor: 86400, dim: 'time' },
  day: { factor: 86400, dim: 'time' },
  days: { factor: 86400, dim: 'time' },
  week: { factor: 604800, dim: 'time' },
  weeks: { factor: 604800, dim: 'time' },
  m: { factor: 1, dim: 'length' },
  km: { factor: 1000, dim: 'length' },
  cm: { factor: 0.01, dim: 'length' },
  mm: { factor: 0.001, dim: 'length' },
  m2: { factor: 1, dim: 'area' },
  'm^2': { factor: 1, dim: 'area' },
  'm²': { factor: 1, dim: 'area' },
  m3: { factor: 1, dim: 'volume' },
  'm^3': { factor: 1, dim: 'volume' },
  'm³': { factor: 1, dim: 'volume' },
  l: { factor: 0.001, dim: 'volume' },
  L: { factor: 0.001, dim: 'volume' },
  K: { factor: 1, dim: 'temperature' },
  degC: { factor: 1, offset: 273.15, dim: 'temperature' },
  '°C': { factor: 1, offset: 273.15, dim: 'temperature' },
  C: { factor: 1, offset: 273.15, dim: 'temperature' },
  '%': { factor: 0.01, dim: 'dimensionless' },
  percent: { factor: 0.01, dim: 'dimensionless' },
  '1': { factor: 1, dim: 'dimensionless' },
  deg: { factor: 1, dim: 'angle' },
  '°': { factor: 1, dim: 'angle' },
  degree: { factor: 1, dim: 'angle' },
  degrees: { factor: 1, dim: 'angle' },
  'W/K': { factor: 1, dim: 'conductance' },
  'W/m2': { factor: 1, dim: 'irradiance' },
  'W/m^2': { factor: 1, dim: 'irradiance' },
  'W/(m2 K)': { factor: 1, dim: 'U-value' },
  'W/(m^2 K)': { factor: 1, dim: 'U-value' },
  'W/m2K': { factor: 1, dim: 'U-value' },
  'kWh/km': { factor: 3.6e6 / 1000, dim: 'energy per length' },
  'J/m': { factor: 1, dim: 'energy per length' },
  '1/h': { factor: 1 / 3600, dim: 'rate' },
  '1/s': { factor: 1, dim: 'rate' },
};

const ALIASES: Record<string, string> = {
  kwh: 'kWh', wh: 'Wh', mwh: 'MWh', gwh: 'GWh', kw: 'kW', mw: 'MW', gw: 'GW', w: 'W',
  kj: 'kJ', mj: 'MJ', gj: 'GJ', j: 'J', c: 'degC', degc: 'degC',
};

const WORDS: Record<string, string> = {
  energy: 'an energy', power: 'a power', time: 'a time', length: 'a length', area: 'an area',
  volume: 'a volume', temperature: 'a temperature', dimensionless: 'a plain number',
  angle: 'an angle', conductance: 'a conductance (W/K)', irradiance: 'a power per area (W/m^2)',
  'U-value': 'a heat transfer coefficient (W/(m^2 K))', 'energy per length': 'an energy per length',
  rate: 'a rate (1/time)',
};

const EXAMPLES: Record<string, string> = {
  J: '10 kWh', W: '5 kW', s: '15 min', '°C': '21 degC', K: '5 K', m2: '70 m^2', m3: '0.8 m^3',
  m: '2.6 m', deg: '30 deg', '%': '14 %', 'W/K': '3 W/K',
};

function lookup(text: string): UnitDef | undefined {
  const t = text.trim().replace(/\*\*/g, '^');
  if (BASE[t]) return BASE[t];
  const alias = ALIASES[t.toLowerCase()];
  if (alias && alias !== t) return lookup(alias);
  // a prefix on J, Wh, W (kWh, MJ, GW ...)
  if (t.length > 1 && PREFIX[t[0]] !== undefined) {
    const rest = BASE[t.slice(1)];
    if (rest && ['energy', 'power'].includes(rest.dim)) return { ...rest, factor: rest.factor * PREFIX[t[0]] };
  }
  return undefined;
}

/** The unit as the contract writes it (`x-unit`), as this module reads it. */
function contractUnit(unit: string): UnitDef | undefined {
  return lookup(unit === 'kWh' ? 'kWh' : unit);
}

export class QuantityError extends Error {}

const NUMBER = /^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$/;

/** The dimension of a unit in words ("J (an energy)"), for hints and messages. */
export function describeUnit(unit: string): string {
  const u = contractUnit(unit);
  return u ? `${unit} (${WORDS[u.dim] ?? u.dim})` : unit;
}

/** An example quantity of `unit` for hints ("J" → "10 kWh"). */
export function exampleOf(unit: string): string {
  return EXAMPLES[unit] ?? `1 ${unit}`;
}

/**
 * Convert `text` ("10 kWh", "5kW", "15 min", "21 degC", "3.6e7") to a number in `unit`.
 * A plain number is taken to be in `unit` already.
 * @throws QuantityError when the text is not a number with a unit of the right dimension.
 */
export function toUnit(text: string, unit: string): number {
  if (text.length > 64) throw new QuantityError('too long for a quantity');
  const m = NUMBER.exec(text);
  if (!m) throw new QuantityError(`${JSON.stringify(text)} is not a number (e.g. ${exampleOf(unit)})`);
  const value = Number(m[1]);
  const given = m[2];
  if (!given) return value;
  const to = contractUnit(unit);
  const from = lookup(given);
  if (!from) throw new QuantityError(`unknown unit ${JSON.stringify(given)}: give ${describeUnit(unit)}, e.g. ${exampleOf(unit)}`);
  if (!to) {
    if (given.trim() === unit) return value;
    throw new QuantityError(`give a plain number in ${unit}`);
  }
  if (from.dim !== to.dim) {
    throw new QuantityError(`'${text.trim()}' is ${WORDS[from.dim] ?? from.dim}, not ${WORDS[to.dim] ?? to.dim}: give ${unit}, e.g. ${exampleOf(unit)}`);
  }
  const si = value * from.factor + (from.offset ?? 0);
  const out = (si - (to.offset ?? 0)) / to.factor;
  return Number(out.toPrecision(12));
}

/** A human reading of an SI value: 36000000 [J] → "10 kWh", 5000 [W] → "5 kW". */
export function humanise(value: number, unit: string): string {
  const fmt = (v: number) => String(Number(v.toPrecision(4)));
  if (unit === 'J') {
    const kwh = value / 3.6e6;
    return Math.abs(kwh) >= 1000 ? `${fmt(kwh / 1000)} MWh` : `${fmt(kwh)} kWh`;
  }
  if (unit === 'W') {
    const a = Math.abs(value);
    return a >= 1e6 ? `${fmt(value / 1e6)} MW` : a >= 1000 ? `${fmt(value / 1000)} kW` : `${fmt(value)} W`;
  }
  if (unit === 's') {
    const a = Math.abs(value);
    return a >= 86400 ? `${fmt(value / 86400)} d` : a >= 3600 ? `${fmt(value / 3600)} h` : a >= 60 ? `${fmt(value / 60)} min` : `${fmt(value)} s`;
  }
  return `${fmt(value)} ${unit}`;
}
