/** Builds a fresh gateway app per test inside workerd, with a queue that records what is sent. */
import bcrypt from 'bcryptjs';
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import type { AuditEvent } from '../../lib/audit/event';
import { loadKeyRing, sealSecret } from '../../lib/crypto/aes-gcm';
import { newVirtualKey } from '../../lib/crypto/virtual-key';
import { kvKeys, type ProviderKeyEntry, type VirtualKeyRecord } from '../../lib/kv/records';
import type { Env } from '../../worker/env';
import { createGateway } from '../../worker/index';

export const ORG = '5b0c4f51-0000-4000-8000-000000000001';

export interface Harness {
  env: Env;
  events: AuditEvent[];
  logs: string[];
  call(path: string, init?: RequestInit & { json?: unknown; key?: string; ip?: string }): Promise<{ res: Response; text: string; json: unknown }>;
  /** The response unread, with a function that waits for the request's background work. */
  open(path: string, init: { json: unknown; key: string }): Promise<{ res: Response; settle(): Promise<void> }>;
}

export function harness(overrides: Partial<Record<keyof Env, unknown>> = {}, gatewayOpts: { now?: () => number } = {}): Harness {
  const events: AuditEvent[] = [];
  const logs: string[] = [];
  const queue = {
    async send(body: AuditEvent) {
      events.push(structuredClone(body));
    },
    async sendBatch(batch: Iterable<{ body: AuditEvent }>) {
      for (const m of batch) events.push(structuredClone(m.body));
    },
  };
  const testEnv = { ...(env as unknown as Env), AUDIT_QUEUE: queue as unknown as Queue<AuditEvent>, ...overrides } as Env;
  const app = createGateway(gatewayOpts);
  return {
    env: testEnv,
    events,
    logs,
    async open(path, init) {
      const ctx = createExecutionContext();
      const res = await app.fetch(
        new Request(`https://gateway.test${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${init.key}`, 'content-type': 'application/json' },
          body: JSON.stringify(init.json),
        }),
        testEnv,
        ctx,
      );
      return { res, settle: () => waitOnExecutionContext(ctx) };
    },
    async call(path, init = {}) {
      const headers = new Headers(init.headers);
      if (init.key) headers.set('authorization', `Bearer ${init.key}`);
      if (init.ip) headers.set('cf-connecting-ip', init.ip);
      let body = init.body;
      if (init.json !== undefined) {
        body = JSON.stringify(init.json);
        headers.set('content-type', 'application/json');
      }
      const ctx = createExecutionContext();
      const capture = ['log', 'warn', 'error'] as const;
      const originals = capture.map((m) => console[m]);
      capture.forEach((m) => {
        console[m] = (...args: unknown[]) => logs.push(args.map(String).join(' '));
      });
      try {
        const res = await app.fetch(new Request(`https://gateway.test${path}`, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body }), testEnv, ctx);
        const text = await res.text();
        await waitOnExecutionContext(ctx);
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          /* streams are not JSON */
        }
        return { res, text, json };
      } finally {
        capture.forEach((m, i) => {
          console[m] = originals[i]!;
        });
      }
    },
  };
}

export async function seedKey(over: Partial<VirtualKeyRecord> = {}): Promise<{ key: string; record: VirtualKeyRecord }> {
  const { id, secret, key } = newVirtualKey();
  const record: VirtualKeyRecord = {
    id,
    org_id: ORG,
    name: 'test key',
    secret_hash: await bcrypt.hash(secret, 4),
    models: ['*'],
    cidrs: [],
    expires_at: null,
    revoked_at: null,
    version: 1,
    ...over,
  };
  await env.ROUTERO_KV.put(kvKeys.virtualKey(id), JSON.stringify(record));
  return { key, record };
}

export async function seedProviderKey(provider: 'openai' | 'anthropic', secret: string, baseUrl: string | null, orgId = ORG): Promise<ProviderKeyEntry> {
  const ring = await loadKeyRing((env as unknown as Env).ROUTERO_KEKS);
  const id = crypto.randomUUID();
  const entry: ProviderKeyEntry = { id, org_id: orgId, provider, base_url: baseUrl, ...(await sealSecret(ring, { recordId: id, orgId, provider }, secret)) };
  await env.ROUTERO_KV.put(kvKeys.providerKeys(orgId, provider), JSON.stringify([entry]));
  return entry;
}
