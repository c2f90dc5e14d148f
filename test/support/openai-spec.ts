/**
 * Validates bodies against OpenAI's published OpenAPI description (../shared/specs). The document
 * mixes OpenAPI 3.0's `nullable` into 3.1 schemas, so `nullable: true` is rewritten to a null type
 * (and null is added to nullable enums) before compiling.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import { parse } from 'yaml';

const SPEC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'specs', 'openai-openapi.yaml');

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
  const doc = parse(readFileSync(SPEC, 'utf8')) as { components: { schemas: Record<string, unknown> } };
  ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
  ajv.addSchema({ $id: 'openai', components: { schemas: convertNullable(doc.components.schemas) } });
  return ajv;
}

/** Returns a list of problems (empty when the body matches the named schema). */
export function openaiSchemaErrors(schemaName: string, body: unknown): string[] {
  const validate = getAjv().getSchema(`openai#/components/schemas/${schemaName}`);
  if (!validate) throw new Error(`no schema ${schemaName}`);
  if (validate(body)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
