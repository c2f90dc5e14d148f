/**
 * The production checks of `npm run doctor` as a pure function over both Workers' parsed
 * configurations, the secret names their generated Env types declare (types/*.d.ts), and the
 * secret values the operator supplies. Each finding says what is wrong and how to fix it.
 */
import { isIP } from 'node:net';

export interface WorkerConfig {
  name?: string;
  vars?: Record<string, unknown>;
  kv_namespaces?: Array<{ binding: string; id?: string }>;
  queues?: { producers?: Array<{ binding: string; queue: string }>; consumers?: Array<{ queue: string; dead_letter_queue?: string }> };
  triggers?: { crons?: string[] };
}

export interface DoctorInput {
  gateway: WorkerConfig;
  admin: WorkerConfig;
  /** Secret names from the generated Env types: the strings that are not [vars]. */
  secretNames: { gateway: string[]; admin: string[] };
  /** Secret values by Worker; a name missing here is not set. */
  secrets: { gateway: Record<string, string>; admin: Record<string, string> };
}

export interface Finding {
  level: 'error' | 'warning';
  worker: 'gateway' | 'admin' | 'both';
  problem: string;
  fix: string;
}

const PLACEHOLDER_ID = /^0+$|^(?:x+|placeholder|todo|change-?me|your[-_ ]?id)$/i;

function isLoopbackOrPrivateHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.local') || h.endsWith('.internal')) return true;
  if (isIP(h) === 4) {
    const [a, b] = h.split('.').map(Number) as [number, number];
    return a === 127 || a === 10 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254) || (a === 100 && b >= 64 && b <= 127);
  }
  if (isIP(h) === 6) return h === '::1' || h === '::' || h.startsWith('fc') || h.startsWith('fd') || h.startsWith('fe80') || h.startsWith('::ffff:127.');
  return false;
}

/** Rough strength of a secret in bits: length × log2(size of the character classes it uses). */
export function secretBits(s: string): number {
  let alphabet = 0;
  if (/[a-z]/.test(s)) alphabet += 26;
  if (/[A-Z]/.test(s)) alphabet += 26;
  if (/[0-9]/.test(s)) alphabet += 10;
  if (/[^a-zA-Z0-9]/.test(s)) alphabet += 32;
  const distinct = new Set(s).size;
  // A long run of few distinct characters is not strong, whatever its length.
  return Math.min(s.length * Math.log2(Math.max(alphabet, 2)), distinct * 8);
}

function kekProblems(raw: string): string | null {
  const entries = raw.split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) return 'is empty';
  for (const e of entries) {
    const m = /^(\d+):([A-Za-z0-9+/]+={0,2})$/.exec(e);
    if (!m) return `has an entry that is not "<version>:<base64>"`;
    if (Buffer.from(m[2]!, 'base64').length !== 32) return `version ${m[1]} is not 32 bytes`;
  }
  return null;
}

export function diagnose(input: DoctorInput): Finding[] {
  const out: Finding[] = [];
  const add = (level: Finding['level'], worker: Finding['worker'], problem: string, fix: string) => out.push({ level, worker, problem, fix });
  const workers = [
    ['gateway', input.gateway, 'wrangler.toml', ''] as const,
    ['admin', input.admin, 'admin/wrangler.toml', ' -c admin/wrangler.toml'] as const,
  ];
  for (const [w, cfg, file, flag] of workers) {
    const vars = (cfg.vars ?? {}) as Record<string, unknown>;
    const v = (k: string) => (typeof vars[k] === 'string' ? (vars[k] as string) : vars[k] === undefined ? undefined : String(vars[k]));
    for (const kv of cfg.kv_namespaces ?? []) {
      if (!kv.id || PLACEHOLDER_ID.test(kv.id)) add('error', w, `KV namespace ${kv.binding} has the placeholder id "${kv.id ?? ''}" (${file})`, `wrangler kv namespace create routero, then put its id in ${file} (both Workers share it)`);
    }
    if (v('ALLOW_PRIVATE_UPSTREAMS') === 'true') add('error', w, `ALLOW_PRIVATE_UPSTREAMS is "true" (${file}): provider URLs may point into private networks (SSRF)`, `set ALLOW_PRIVATE_UPSTREAMS = "false" in ${file}`);
    const cerbos = v('CERBOS_URL');
    if (!cerbos) add('error', w, `CERBOS_URL is not set (${file}): every request would be refused`, `set CERBOS_URL to your Cerbos PDP (README "Deploying")`);
    else {
      let url: URL | null = null;
      try {
        url = new URL(cerbos);
      } catch {
        add('error', w, `CERBOS_URL "${cerbos}" is not a URL (${file})`, 'set an https:// URL of your Cerbos PDP');
      }
      if (url) {
        if (isLoopbackOrPrivateHost(url.hostname)) add('error', w, `CERBOS_URL ${cerbos} is a loopback or private address (${file}): a deployed Worker cannot reach it, so every request would be refused`, 'put Cerbos behind Cloudflare Access (or in a Container) and set its public https URL (decision 0020)');
        else if (url.protocol !== 'https:') add('error', w, `CERBOS_URL ${cerbos} is not https (${file}): decisions and principals would cross the internet in clear`, 'use https://');
        const s = input.secrets[w];
        if (!isLoopbackOrPrivateHost(url.hostname) && (!s.CERBOS_ACCESS_CLIENT_ID || !s.CERBOS_ACCESS_CLIENT_SECRET)) {
          add('warning', w, 'Cerbos is on a public URL but no Cloudflare Access service token is set: anyone who finds the URL can ask it for decisions and read your policies’ answers', `wrangler secret put CERBOS_ACCESS_CLIENT_ID${flag} and CERBOS_ACCESS_CLIENT_SECRET${flag}, and protect the Cerbos hostname with an Access service-auth policy`);
        }
      }
    }
    if (!!input.secrets[w].CERBOS_ACCESS_CLIENT_ID !== !!input.secrets[w].CERBOS_ACCESS_CLIENT_SECRET) {
      add('error', w, 'only one of CERBOS_ACCESS_CLIENT_ID and CERBOS_ACCESS_CLIENT_SECRET is set: the Worker refuses to serve', `set both (wrangler secret put …${flag})`);
    }
    for (const name of input.secretNames[w]) {
      if (!input.secrets[w][name]) add('error', w, `secret ${name} is not set (named in the ${w} Worker's Env type)`, `wrangler secret put ${name}${flag}`);
    }
    if (v('ROUTERO_TEST_LOGIN') === 'true') add('error', w, `ROUTERO_TEST_LOGIN is "true" (${file}): a test-only login route`, `remove ROUTERO_TEST_LOGIN from ${file}`);
  }

  const gv = (input.gateway.vars ?? {}) as Record<string, unknown>;
  if (gv.ROUTERO_ENV !== undefined && gv.ROUTERO_ENV !== 'production') add('error', 'gateway', `ROUTERO_ENV is "${String(gv.ROUTERO_ENV)}": requests without Cloudflare's request.cf would be served and CIDR allowlists could be fooled`, 'set ROUTERO_ENV = "production" in wrangler.toml');
  if (gv.EXPOSE_SERVER_TIMING === 'true') add('warning', 'gateway', 'EXPOSE_SERVER_TIMING is "true": answers say which authentication path ran', 'set EXPOSE_SERVER_TIMING = "false"');
  const av = (input.admin.vars ?? {}) as Record<string, unknown>;
  for (const k of ['KEY_CACHE_TTL_SECONDS', 'POLICY_CACHE_TTL_SECONDS', 'MAX_BODY_BYTES']) {
    if (av[k] !== undefined && gv[k] !== undefined && String(av[k]) !== String(gv[k])) add('warning', 'both', `${k} is ${String(gv[k])} in wrangler.toml but ${String(av[k])} in admin/wrangler.toml: the evidence export would report the wrong value`, 'make them equal');
  }

  const master = input.secrets.admin.MASTER_KEY;
  if (master && (master.length < 32 || secretBits(master) < 128)) add('error', 'admin', `MASTER_KEY is weak (${master.length} characters, about ${Math.floor(secretBits(master))} bits)`, 'use at least 32 random characters: openssl rand -base64 32 | wrangler secret put MASTER_KEY -c admin/wrangler.toml');
  const session = input.secrets.admin.SESSION_SIGNING_KEY;
  if (session && session.length < 32) add('error', 'admin', 'SESSION_SIGNING_KEY is shorter than 32 characters: the admin UI refuses to start sessions', 'openssl rand -base64 48 | wrangler secret put SESSION_SIGNING_KEY -c admin/wrangler.toml');
  for (const [w] of workers) {
    const keks = input.secrets[w].ROUTERO_KEKS;
    const problem = keks ? kekProblems(keks) : null;
    if (problem) add('error', w, `ROUTERO_KEKS ${problem}`, 'each entry is <version>:<base64 of 32 random bytes>, e.g. 1:$(openssl rand -base64 32)');
  }
  const gk = input.secrets.gateway.ROUTERO_KEKS;
  const ak = input.secrets.admin.ROUTERO_KEKS;
  if (gk && ak && gk !== ak) add('error', 'both', 'ROUTERO_KEKS differs between the gateway and the admin Worker: provider keys sealed by one cannot be opened by the other', 'set the same value on both Workers');
  const evidence = input.secrets.admin.EVIDENCE_SIGNING_KEY;
  if (evidence) {
    const der = Buffer.from(evidence, 'base64');
    // PKCS #8 Ed25519 private keys are 48 bytes and carry the Ed25519 OID 1.3.101.112 (06 03 2b 65 70).
    if (der.length !== 48 || !der.includes(Buffer.from([0x06, 0x03, 0x2b, 0x65, 0x70]))) {
      add('error', 'admin', 'EVIDENCE_SIGNING_KEY is not a base64 PKCS #8 Ed25519 private key: evidence exports would fail', 'openssl genpkey -algorithm ed25519 -outform DER | base64 -w0 | wrangler secret put EVIDENCE_SIGNING_KEY -c admin/wrangler.toml');
    }
  }

  const produced = (input.gateway.queues?.producers ?? []).map((p) => p.queue);
  const consumed = (input.admin.queues?.consumers ?? []).map((c) => c.queue);
  for (const q of produced) if (!consumed.includes(q)) add('error', 'both', `the gateway sends events to queue ${q}, which the admin Worker does not consume: events would pile up`, 'consume it in admin/wrangler.toml');
  if (!(input.admin.queues?.consumers ?? []).some((c) => c.dead_letter_queue)) add('warning', 'admin', 'the audit queue consumer has no dead_letter_queue: events that fail 10 times are lost', 'set dead_letter_queue on the consumer');
  if (!(input.admin.triggers?.crons ?? []).length) add('warning', 'admin', 'the admin Worker has no cron triggers: the audit chain is not anchored and partitions are not maintained', 'restore [triggers] crons in admin/wrangler.toml');
  return out;
}

/** Secret names from a generated Env type: `NAME: string;` lines (vars are typed as their literal). */
export function secretNamesFromTypes(dts: string): string[] {
  return [...dts.matchAll(/^\s+([A-Z][A-Z0-9_]*): string;$/gm)].map((m) => m[1]!);
}
