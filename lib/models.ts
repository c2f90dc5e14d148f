/** Model names are `provider/model`; key scopes are patterns over them (`*` matches any run of characters). */

export interface ModelRef {
  provider: string;
  model: string;
}

export function parseModelName(name: string): ModelRef | null {
  const slash = name.indexOf('/');
  if (slash <= 0 || slash === name.length - 1) return null;
  return { provider: name.slice(0, slash), model: name.slice(slash + 1) };
}

const compiled = new Map<string, RegExp>();

function patternToRegExp(pattern: string): RegExp {
  let re = compiled.get(pattern);
  if (!re) {
    const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
    re = new RegExp(`^${escaped}$`);
    if (compiled.size > 10_000) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

export function modelAllowed(model: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => patternToRegExp(p).test(model));
}

export const MODEL_PATTERN_RE = /^[A-Za-z0-9._:*-]+\/[A-Za-z0-9._:*/@-]+$|^\*$/;

/** Longest model name the gateway accepts: provider/model names are far shorter. */
export const MODEL_NAME_MAX = 256;

/**
 * Characters a model name may not contain: controls (C0, DEL, C1: category Cc), lone surrogates
 * (Cs; with the `u` flag a well-formed pair is one code point and does not match), format
 * characters (Cf: bidi overrides and zero-width characters would make the admin UI show a name
 * other than the one stored) and the Unicode line and paragraph separators (Zl, Zp).
 */
const NOT_PRINTABLE = /[\p{Cc}\p{Cs}\p{Cf}\p{Zl}\p{Zp}]/u;

/**
 * Why a client's model name cannot be used, or null when it can. Checked before the key's scope
 * and the policy service, so hostile input never reaches Cerbos (a lone surrogate once made it
 * answer with an error, which the gateway reported as an outage) nor an audit event uncapped.
 */
export function modelNameProblem(name: string): string | null {
  if (name.length === 0 || name.length > MODEL_NAME_MAX) return `must be 1 to ${MODEL_NAME_MAX} characters long`;
  if (NOT_PRINTABLE.test(name)) return 'must contain only printable characters (no control characters, NUL or lone surrogates)';
  return null;
}
