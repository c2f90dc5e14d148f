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

/**
 * Does `text` match `pattern`, where `*` matches any run of characters? A greedy two-pointer match
 * with backtracking to the last `*` only: O(pattern × text) at worst, no regular expression, so no
 * per-isolate cache of compiled patterns to grow with input and no catastrophic backtracking.
 */
/* eslint-disable security/detect-object-injection -- p and t are numeric indexes into strings */
function globMatch(pattern: string, text: string): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let resume = 0;
  while (t < text.length) {
    if (p < pattern.length && pattern[p] !== '*' && pattern[p] === text[t]) {
      p++;
      t++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      resume = t;
    } else if (star >= 0) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
/* eslint-enable security/detect-object-injection */

/**
 * Is every model the key pattern admits also admitted by one of the organisation's patterns?
 * Conservative: a pattern the check cannot prove to be inside (a `*` in the middle of both) is not.
 */
export function patternWithin(keyPattern: string, orgPatterns: readonly string[]): boolean {
  return orgPatterns.some((op) => {
    if (op === '*' || op === keyPattern) return true;
    if (!keyPattern.includes('*')) return globMatch(op, keyPattern);
    return op.endsWith('*') && !op.slice(0, -1).includes('*') && keyPattern.startsWith(op.slice(0, -1));
  });
}

export function modelAllowed(model: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => globMatch(p, model));
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
