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

export function modelAllowed(model: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => globMatch(p, model));
}

export const MODEL_PATTERN_RE = /^[A-Za-z0-9._:*-]+\/[A-Za-z0-9._:*/@-]+$|^\*$/;
