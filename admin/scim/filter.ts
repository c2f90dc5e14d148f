/**
 * SCIM filters (RFC 7644 §3.4.2.2), parsed by `scim2-parse-filter` and evaluated over the SCIM
 * representation of each resource. Two rules the library leaves to us:
 * - attribute names are case-insensitive (RFC 7643 §2.1): paths and resource keys are lower-cased;
 * - string comparison follows each attribute's `caseExact` (RFC 7643 §2.2): only `id` and
 *   `externalId` are case-exact here, so `userName eq "Alice@X.com"` finds `alice@x.com`.
 * The filters IdPs send most (`userName eq "…"`, `externalId eq "…"`, `displayName eq "…"`) are
 * also recognised as such, so the caller can answer them with one indexed query.
 */
import { filter as compile, parse, type Filter } from 'scim2-parse-filter';
import { scimBadRequest } from './errors';

const CASE_EXACT = new Set(['id', 'externalid']);
const MAX_FILTER_LENGTH = 2_000;

function lowerPath(path: string): string {
  // Schema-qualified paths (urn:…:User:department) keep their URN case-insensitively too.
  return path.toLowerCase();
}

function isCaseExact(path: string): boolean {
  const last = path.split('.').pop() ?? path;
  return CASE_EXACT.has(path) || (CASE_EXACT.has(last) && !path.includes('.'));
}

function normalize(f: Filter, prefix = ''): Filter {
  switch (f.op) {
    case 'and':
    case 'or':
      return { op: f.op, filters: f.filters.map((x) => normalize(x, prefix)) };
    case 'not':
      return { op: 'not', filter: normalize(f.filter, prefix) };
    case '[]':
      return { op: '[]', attrPath: lowerPath(f.attrPath), valFilter: normalize(f.valFilter, `${lowerPath(f.attrPath)}.`) };
    case 'pr':
      return { op: 'pr', attrPath: lowerPath(f.attrPath) };
    default: {
      const attrPath = lowerPath(f.attrPath);
      const exact = isCaseExact(prefix + attrPath);
      const compValue = typeof f.compValue === 'string' && !exact ? f.compValue.toLowerCase() : f.compValue;
      return { ...f, attrPath, compValue };
    }
  }
}

/** The resource as the filter sees it: keys lower-cased, case-insensitive strings lower-cased. */
function comparable(value: unknown, path: string): unknown {
  if (Array.isArray(value)) return value.map((v) => comparable(v, path));
  if (value instanceof Date) return value.toISOString();
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => {
        const key = k.toLowerCase();
        return [key, comparable(v, path ? `${path}.${key}` : key)];
      }),
    );
  }
  if (typeof value === 'string' && !isCaseExact(path)) return value.toLowerCase();
  return value;
}

export interface ParsedFilter {
  /** `attr eq "value"` on one top-level attribute (lower-cased name), for an indexed lookup. */
  simpleEq: { attr: string; value: string } | null;
  matches: (resource: Record<string, unknown>) => boolean;
}

export function parseScimFilter(text: string | undefined): ParsedFilter | null {
  if (text === undefined || text.trim() === '') return null;
  if (text.length > MAX_FILTER_LENGTH) throw scimBadRequest('invalidFilter', `The filter is longer than ${MAX_FILTER_LENGTH} characters.`);
  let ast: Filter;
  try {
    ast = normalize(parse(text));
  } catch (e) {
    throw scimBadRequest('invalidFilter', 'The filter is not a valid SCIM filter (RFC 7644 §3.4.2.2).', `filter parse: ${e instanceof Error ? e.message : String(e)}`);
  }
  const test = compile(ast);
  const simpleEq = ast.op === 'eq' && typeof ast.compValue === 'string' && !ast.attrPath.includes('.') ? { attr: ast.attrPath, value: ast.compValue } : null;
  return { simpleEq, matches: (resource) => test(comparable(resource, '')) };
}
