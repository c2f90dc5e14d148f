/**
 * Which client headers may reach a provider. Upstream headers come from the provider-key
 * configuration (the key, the content type) plus, per adapter, an explicit allowlist of client
 * headers that only shape the API call (a version, opt-in beta features), each with the shape its
 * value must have. Everything else a client sends stays here: identity and routing headers such as
 * OpenAI-Organization / OpenAI-Project (they would pick another organisation or project of the
 * shared provider key), Authorization, Cookie, Host, X-Forwarded-*, CF-*.
 */
export type ClientHeaderAllowlist = Readonly<Record<string, RegExp>>;

/** The allowed client headers whose values have the expected shape, lower-case names. */
export function allowedClientHeaders(client: Headers, allowlist: ClientHeaderAllowlist): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [name, shape] of Object.entries(allowlist)) {
    const value = client.get(name);
    if (value !== null && shape.test(value)) out.push([name, value]);
  }
  return out;
}
