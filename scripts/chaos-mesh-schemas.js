#!/usr/bin/env node
// Writes activities/kubernetes/chaosMeshSchemas/<Kind>.json: the `spec` schema of each Chaos Mesh CRD, as the
// plan validates an experiment's spec against it. `--check` compares instead of writing (test/chaosMeshSpec.test
// runs it), so the shipped schemas stay those of the CRDs the tests apply.
//
// From each CRD's openAPIV3Schema `properties.spec`, this keeps what validates (type, properties, items,
// additionalProperties, required, enum, minimum, maximum, pattern, default) and drops the prose, then adds what
// a plan needs and the API server does differently:
// - `additionalProperties: false` on every object with properties: the API server prunes unknown fields
//   without a word, so a misspelt `labelSelector` would vanish and the experiment select every pod of its
//   namespace; the plan refuses the field instead, at its path;
// - a bound on every string (maxLength, no control characters), list (maxItems) and map (maxProperties), as on
//   every other plan field;
// - `format: int32` as its range, `format: byte` as base64 (the API server checks both);
// - `x-kubernetes-list-type: atomic` (every list here) only says how lists merge: dropped.
'use strict';
const { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { parse } = require('yaml');

const root = join(__dirname, '..');
const outDir = join(root, 'activities', 'kubernetes', 'chaosMeshSchemas');
const maxStringLength = 4096;
const maxItems = 1000;
const maxProperties = 256;
const int32 = { minimum: -2147483648, maximum: 2147483647 };
// As plan/controlCharacters.ts: no C0 control except tab and newline, no DEL, no C1 control.
const withoutControlCharacters = '^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]*$';

function crdDir() {
  const candidates = [
    process.env.GAMEDAY_CHAOS_MESH_CRDS,
    join(root, 'test', 'fixtures', 'chaos-mesh-crds'),
    join(root, '..', 'shared', 'fixtures', 'chaos-mesh-crds'),
    join(root, '..', '..', 'shared', 'fixtures', 'chaos-mesh-crds'),
  ].filter(Boolean);
  const found = candidates.find((dir) => existsSync(dir));
  if (!found) throw new Error(`no Chaos Mesh CRDs in any of ${candidates.join(', ')}`);
  return found;
}

const kept = ['type', 'required', 'enum', 'minimum', 'maximum', 'pattern', 'default'];

function bounded(schema, at) {
  const out = {};
  for (const key of kept) if (schema[key] !== undefined) out[key] = schema[key];
  const unknown = Object.keys(schema).filter(
    (key) =>
      ![...kept, 'description', 'properties', 'items', 'additionalProperties', 'format'].includes(key) &&
      !(key === 'x-kubernetes-list-type' && schema[key] === 'atomic'),
  );
  if (unknown.length > 0)
    throw new Error(`${at}: keywords this generator does not know: ${unknown.join(', ')}`);
  if (schema.type === 'string') {
    if (schema.format === 'byte') out.pattern = '^[A-Za-z0-9+/]*={0,2}$';
    if (out.enum === undefined) {
      out.maxLength = maxStringLength;
      out.pattern ??= withoutControlCharacters;
    }
  }
  if (schema.type === 'integer' && schema.format === 'int32') {
    out.minimum = Math.max(out.minimum ?? int32.minimum, int32.minimum);
    out.maximum = Math.min(out.maximum ?? int32.maximum, int32.maximum);
  }
  if (schema.type === 'array') {
    if (!schema.items) throw new Error(`${at}: a list without items`);
    out.items = bounded(schema.items, `${at}[]`);
    out.maxItems = maxItems;
  }
  if (schema.type === 'object') {
    if (schema.properties) {
      out.properties = Object.fromEntries(
        Object.entries(schema.properties).map(([name, child]) => [name, bounded(child, `${at}.${name}`)]),
      );
      out.additionalProperties = false;
    } else if (typeof schema.additionalProperties === 'object') {
      out.additionalProperties = bounded(schema.additionalProperties, `${at}{}`);
      out.maxProperties = maxProperties;
    } else {
      throw new Error(`${at}: an object with neither properties nor a value schema`);
    }
  }
  if (schema.type === undefined) throw new Error(`${at}: a schema without a type`);
  return out;
}

async function main() {
  const check = process.argv.includes('--check');
  const dir = crdDir();
  const prettier = await import('prettier');
  const options = { ...(await prettier.resolveConfig(join(outDir, 'x.json'))), parser: 'json' };
  const readme = join(dir, 'README.md');
  const release =
    (existsSync(readme) && /\b(v\d+\.\d+\.\d+)\b/.exec(readFileSync(readme, 'utf8'))?.[1]) || '';
  const files = readdirSync(dir)
    .filter((file) => file.endsWith('.yaml'))
    .sort();
  const stale = [];
  mkdirSync(outDir, { recursive: true });
  for (const file of files) {
    const crd = parse(readFileSync(join(dir, file), 'utf8'));
    const { group, names, versions } = crd.spec;
    const version = versions.find((v) => v.storage) ?? versions[0];
    const spec = version.schema.openAPIV3Schema.properties.spec;
    const generated = {
      $comment: `generated by scripts/chaos-mesh-schemas.js from ${file} (Chaos Mesh ${release || 'CRDs'}, Apache-2.0)`,
      kind: names.kind,
      group,
      version: version.name,
      plural: names.plural,
      spec: bounded(spec, `${names.kind}.spec`),
    };
    const text = await prettier.format(JSON.stringify(generated), options);
    const target = join(outDir, `${names.kind}.json`);
    if (check) {
      if (!existsSync(target) || readFileSync(target, 'utf8') !== text) stale.push(target);
    } else {
      writeFileSync(target, text);
      console.error(`[chaos-mesh-schemas] ${target}`);
    }
  }
  if (stale.length > 0) {
    console.error(`not generated from ${dir}: ${stale.join(', ')}; run node scripts/chaos-mesh-schemas.js`);
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
