/**
 * Validates bodies against OpenAI's published OpenAPI description. The tests read only the subset
 * kept in the repository (test/fixtures/openai-spec-subset.json: the schemas we check and every
 * schema they reference, extracted by scripts/extract-openai-spec.ts; MIT licence and source commit
 * beside it), so a fresh clone needs nothing outside itself. The document mixes OpenAPI 3.0's
 * `nullable` into 3.1 schemas, so `nullable: true` is rewritten to a null type (and null is added to
 * nullable enums) before compiling.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';

const SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'openai-spec-subset.json');

function convertNullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(convertNullable);
  if (!node || typeof node !== 'object') return node;
  const obj: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) obj[k] = convertNullable(v);
  if (obj.nullable === true) {
    delete obj.nullable;
    if (Array.isArray(obj.enum) && !obj.enum.includes(null)) obj.enum = [...obj.enum, null];
    if (typeof obj.type === 'string') obj.type = [obj.type, 'null'];
    else if (Array.isArray(obj.type) && !obj.type.includes('null')) obj.type = [...obj.type, 'null'];
    else if (!obj.type) return { anyOf: [obj, { type: 'null' }] };
  }
  return obj;
}

let ajv: InstanceType<typeof Ajv2020> | null = null;

function getAjv(): InstanceType<typeof Ajv2020> {
  if (ajv) return ajv;
  const doc = JSON.parse(readFileSync(SPEC, 'utf8')) as { components: { schemas: Record<string, unknown> } };
  ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'openai', components: { schemas: convertNullable(doc.components.schemas) } });
  return ajv;
}

/** The schema names the fixture was extracted for (every other schema in it is reached by `$ref`). */
export function openaiFixtureRoots(): string[] {
  return (JSON.parse(readFileSync(SPEC, 'utf8')) as { roots: string[] }).roots;
}

/** Compiles a named schema; throws when it references a schema the fixture does not hold. */
export function compileOpenaiSchema(schemaName: string): void {
  if (!getAjv().getSchema(`openai#/components/schemas/${schemaName}`)) throw new Error(`no schema ${schemaName}`);
}

/** Returns a list of problems (empty when the body matches the named schema). */
export function openaiSchemaErrors(schemaName: string, body: unknown): string[] {
  const validate = getAjv().getSchema(`openai#/components/schemas/${schemaName}`);
  if (!validate) throw new Error(`no schema ${schemaName} in the fixture: add it to ROOT_SCHEMAS in scripts/extract-openai-spec.ts and run it`);
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
