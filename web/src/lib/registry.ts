// The device kinds, as `GET /api/kinds` answers (web/src/generated/registry.json offline).
// Everything the page knows about a kind comes from here: palette, forms, connection rules.
import bundled from '../generated/registry.json';

/** A JSON Schema node (draft 2020-12, as pydantic writes it). */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  'x-unit'?: string;
  'x-live'?: boolean;
  [key: string]: unknown;
}

export interface KindLimits {
  max_per_home: number | null;
  min_per_home: number;
  max_per_flat: number | null;
}

/** One device kind: the registry descriptor (schemas/registry.py) plus its properties schema. */
export interface Kind {
  kind: string;
  label: string;
  description: string;
  role: string;
  bounded: boolean;
  carriers: string[];
  inputs: string[];
  balanced_by: string | null;
  packets_from: string[];
  requires: string[];
  /** Properties that name another device of the home: property → the kind it names. */
  references?: Record<string, string>;
  limits: KindLimits;
  colour: string;
  report: unknown;
  properties_schema: JsonSchema;
  live: string[];
}

export type Registry = Map<string, Kind>;

export function makeRegistry(kinds: Kind[]): Registry {
  return new Map(kinds.map((k) => [k.kind, k]));
}

/** The kinds bundled at build time (`python -m homesim.schemas.regen`). */
export const BUNDLED: Registry = makeRegistry((bundled as unknown as { kinds: Kind[] }).kinds);

/** Resolve a local `$ref` (`#/$defs/X`) against `root`. */
export function deref(node: JsonSchema, root: JsonSchema): JsonSchema {
  let n = node;
  for (let i = 0; i < 32 && n.$ref; i++) {
    const path = n.$ref.replace(/^#\//, '').split('/');
    let cur: unknown = root;
    for (const p of path) cur = (cur as Record<string, unknown> | undefined)?.[p];
    if (!cur) return n;
    n = { ...(cur as JsonSchema), ...Object.fromEntries(Object.entries(n).filter(([k]) => k !== '$ref')) };
  }
  return n;
}

/** `X | null` schemas (`anyOf: [X, {type: null}]`) as X; other nodes as they are. */
export function nonNull(node: JsonSchema, root: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  const n = deref(node, root);
  if (n.anyOf) {
    const rest = n.anyOf.filter((s) => s.type !== 'null');
    if (rest.length === 1 && rest.length < n.anyOf.length) {
      const { anyOf: _drop, ...outer } = n;
      void _drop;
      return { schema: { ...deref(rest[0], root), ...outer, type: deref(rest[0], root).type }, nullable: true };
    }
  }
  return { schema: n, nullable: false };
}
