/**
 * PATCH (RFC 7644 §3.5.2) through the maintained `scim-patch` library: the operations are applied to
 * the resource's current SCIM representation, and the result goes through the same parser as a PUT,
 * so a PATCH can never store what a PUT would refuse. Before that, what real clients send is
 * normalised:
 * - Entra ID capitalises the operation (`"op": "Replace"`); RFC 7644 §3.5.2 names them in lower case
 *   and the library accepts only some capitalisations, so every op is lower-cased.
 * - Attribute names are case-insensitive (RFC 7643 §2.1): the first segment of a path is mapped to
 *   the schema's spelling (`Active` → `active`), and so are the keys of a path-less value.
 * - Okta deactivates with a path-less replace, `{"op":"replace","value":{"active":false}}`
 *   (§3.5.2.3: the value's attributes replace the resource's).
 * - A path or value key naming `__proto__`, `prototype` or `constructor` is refused before the
 *   library sees it: assigning through such a name would change Object.prototype for the whole
 *   isolate (every later `{}` would inherit the attribute, e.g. `platform_admin`).
 */
import { scimPatch, ScimError, type ScimPatchOperation, type ScimResource } from 'scim-patch';
import { SCHEMA } from './discovery';
import { scimBadRequest } from './errors';

export const USER_ATTRIBUTES = ['userName', 'externalId', 'active', 'displayName', 'nickName', 'title', 'name', 'emails', 'phoneNumbers', 'addresses', 'preferredLanguage', 'locale', 'timezone', 'userType', 'profileUrl'];
export const GROUP_ATTRIBUTES = ['displayName', 'externalId', 'members'];
const MAX_OPERATIONS = 1_000;

const FORBIDDEN_NAMES = new Set(['__proto__', 'prototype', 'constructor']);

/** True when a SCIM path has a segment (also inside a filter such as `emails[...]`) that could reach a prototype. */
export function isForbiddenPath(path: string): boolean {
  // Quoted filter literals (`emails[value eq "constructor"]`) are data, not names.
  const names = path.replace(/"(?:[^"\\]|\\.)*"/g, '""').split(/[^\w$]+/);
  return names.some((n) => FORBIDDEN_NAMES.has(n.toLowerCase()));
}

/**
 * Refuses a value that has, at any depth, an own key that could reach a prototype. JSON.parse makes
 * `"__proto__"` an own key, so own keys are what is checked.
 */
export function assertNoPrototypeKeys(value: unknown, where: string): void {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (!v || typeof v !== 'object') continue;
    for (const [key, child] of Object.entries(v)) {
      if (FORBIDDEN_NAMES.has(key.toLowerCase())) throw scimBadRequest('invalidValue', `${where}: the attribute name "${key.slice(0, 50)}" is not allowed.`);
      stack.push(child);
    }
  }
}

function canonical(attributes: readonly string[], name: string): string {
  if (name.toLowerCase().startsWith('urn:')) return name;
  return attributes.find((a) => a.toLowerCase() === name.toLowerCase()) ?? name;
}

function canonicalPath(attributes: readonly string[], path: string): string {
  const m = /^([A-Za-z][\w$-]*)(.*)$/s.exec(path);
  return m ? canonical(attributes, m[1]!) + m[2]! : path;
}

interface RawOperation {
  op?: unknown;
  path?: unknown;
  value?: unknown;
}

export function applyPatch<T extends Record<string, unknown>>(resource: T, body: unknown, attributes: readonly string[]): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw scimBadRequest('invalidSyntax', 'The body must be a SCIM PatchOp object.');
  const { schemas, Operations } = body as { schemas?: unknown; Operations?: unknown };
  if (schemas !== undefined && !(Array.isArray(schemas) && schemas.includes(SCHEMA.patchOp))) {
    throw scimBadRequest('invalidSyntax', `The body's schemas must include ${SCHEMA.patchOp}.`);
  }
  if (!Array.isArray(Operations) || Operations.length === 0) throw scimBadRequest('invalidSyntax', 'The body must have a non-empty Operations list.');
  if (Operations.length > MAX_OPERATIONS) throw scimBadRequest('tooMany', `At most ${MAX_OPERATIONS} operations per request.`);
  const operations = (Operations as RawOperation[]).map((raw, i): ScimPatchOperation => {
    if (!raw || typeof raw !== 'object') throw scimBadRequest('invalidSyntax', `Operations[${i}] must be an object.`);
    const op = typeof raw.op === 'string' ? raw.op.toLowerCase() : '';
    if (op !== 'add' && op !== 'replace' && op !== 'remove') throw scimBadRequest('invalidSyntax', `Operations[${i}].op must be add, replace or remove.`);
    if (raw.path !== undefined && (typeof raw.path !== 'string' || raw.path.length > 1_000)) throw scimBadRequest('invalidPath', `Operations[${i}].path must be a string.`);
    if (typeof raw.path === 'string' && isForbiddenPath(raw.path)) throw scimBadRequest('invalidPath', `Operations[${i}].path names an attribute that is not allowed.`);
    assertNoPrototypeKeys(raw.value, `Operations[${i}].value`);
    const path = typeof raw.path === 'string' && raw.path.trim() !== '' ? canonicalPath(attributes, raw.path.trim()) : undefined;
    if (op === 'remove') {
      // §3.5.2.2: a remove without a path is an error with scimType noTarget.
      if (!path) throw scimBadRequest('noTarget', `Operations[${i}]: remove needs a path.`);
      return raw.value === undefined ? { op, path } : { op, path, value: raw.value };
    }
    let value = raw.value;
    if (!path) {
      if (!value || typeof value !== 'object' || Array.isArray(value)) throw scimBadRequest('invalidValue', `Operations[${i}]: without a path, the value must be an object of attributes.`);
      value = Object.fromEntries(Object.entries(value).map(([k, v]) => [canonicalPath(attributes, k), v]));
    }
    return path ? { op, path, value } : { op, value };
  });
  const meta = { created: new Date(0), lastModified: new Date(0) };
  const document = { ...structuredClone(resource), meta } as unknown as ScimResource;
  try {
    const patched = scimPatch(document, operations, { mutateDocument: false, treatMissingAsAdd: true }) as unknown as Record<string, unknown>;
    delete patched.meta;
    return patched;
  } catch (e) {
    if (e instanceof ScimError) {
      const type = e.scimCode === 'noTarget' ? 'noTarget' : e.scimCode === 'invalidPath' ? 'invalidPath' : 'invalidValue';
      throw scimBadRequest(type, `The patch cannot be applied: ${e.message.slice(0, 300)}`);
    }
    throw e;
  }
}
