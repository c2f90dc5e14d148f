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
    // eslint-disable-next-line security/detect-non-literal-regexp -- every metacharacter but * is escaped and the pattern is anchored; patterns come from the admin API, not from callers
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
