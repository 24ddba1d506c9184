#!/usr/bin/env node
// Generate TypeScript interfaces from the contract (schemas/asyncapi.yaml) with @asyncapi/modelina.
//
//   node scripts/gen-models.mjs            # writes src/generated/models.ts
//   node scripts/gen-models.mjs --stdout   # prints it (python -m homesim.schemas.regen --check)
//
// Every schema of `components.schemas` (and every inline message payload) is passed as a JSON Schema definition, so each becomes one
// interface named as in the contract. Options measured on Node 20 (docs: ../shared/notes.md):
// interfaces, string-literal unions for enums, Record<> for maps, property names as on the wire.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { TypeScriptGenerator } from '@asyncapi/modelina';

const here = dirname(fileURLToPath(import.meta.url));
const contract = resolve(here, '..', '..', 'schemas', 'asyncapi.yaml');
const out = resolve(here, '..', 'src', 'generated', 'models.ts');

const doc = parse(readFileSync(contract, 'utf8'));
// the schemas, and the payloads that messages declare inline (fork, forked, ...) named as the message
const schemas = { ...doc.components.schemas };
for (const [name, msg] of Object.entries(doc.components.messages ?? {})) {
  if (msg.payload && !msg.payload.$ref && !(name in schemas)) schemas[name] = msg.payload;
}
// refs into the contract become refs into the definitions of one JSON Schema document
const text = JSON.stringify(schemas).replaceAll('#/components/schemas/', '#/definitions/');
const definitions = JSON.parse(text);
const root = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'HomesimContract',
  type: 'object',
  definitions,
  // one property per schema: modelina emits every definition that is reachable
  properties: Object.fromEntries(Object.keys(definitions).map((k) => [k, { $ref: `#/definitions/${k}` }])),
};

const generator = new TypeScriptGenerator({
  modelType: 'interface',
  enumType: 'union',
  mapType: 'record',
  rawPropertyNames: true,
  processorOptions: { interpreter: { ignoreAdditionalProperties: true } },
});
const models = await generator.generate(root);
const body = models
  .filter((m) => m.modelName !== 'HomesimContract')
  .sort((a, b) => a.modelName.localeCompare(b.modelName))
  .map((m) => `export ${m.result}`)
  .join('\n\n');
const header = `// GENERATED FILE - DO NOT EDIT. Source: schemas/asyncapi.yaml (components.schemas)
// Generator: @asyncapi/modelina (web/scripts/gen-models.mjs).
// Regenerate with: python -m homesim.schemas.regen (or: cd web && npm run gen)
/* eslint-disable */
`;
const result = `${header}\n${body}\n`;
if (process.argv.includes('--stdout')) {
  process.stdout.write(result);
} else {
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, result);
  console.log(`wrote ${out} (${models.length - 1} models)`);
}
