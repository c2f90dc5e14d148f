/**
 * Cerbos behind Cloudflare Access (decision 0020): the Workers send the service-token headers on
 * every call, and anything else — no token, a wrong one, a half-configured Worker — fails closed.
 * A local stand-in for Access (checks the two headers, answers 302 to a login page otherwise, as
 * Access does) sits in front of the real Cerbos server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CerbosClient, cerbosAccessHeaders, PolicyUnavailableError } from '../../lib/authz/cerbos';
import { startCerbos } from '../../scripts/cerbos-server';
import { freePort } from '../../scripts/paths';

const ID = 'f00dfeed.access';
const SECRET = 'access-secret-3b9f1c27d4e8a6b5';
let cerbos: { url: string; stop(): Promise<void> };
let access: http.Server;
let accessUrl: string;
const seen: Array<Record<string, string | string[] | undefined>> = [];

beforeAll(async () => {
  cerbos = await startCerbos(await freePort());
  access = http.createServer((req, res) => {
    seen.push(req.headers);
    if (req.headers['cf-access-client-id'] !== ID || req.headers['cf-access-client-secret'] !== SECRET) {
      res.writeHead(302, { location: 'https://team.cloudflareaccess.com/cdn-cgi/access/login' }).end();
      return;
    }
    const upstream = http.request(`${cerbos.url}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json' } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((r) => access.listen(0, '127.0.0.1', () => r()));
  accessUrl = `http://127.0.0.1:${(access.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise((r) => access?.close(r));
  await cerbos?.stop();
});

const principal = { id: 'platform', version: '1', roles: ['platform_admin'], attr: {} };
const resource = { kind: 'org', id: '*', attr: {} };

describe('Cerbos behind Cloudflare Access', () => {
  it('sends the service token and gets real decisions', async () => {
    const client = new CerbosClient({ baseUrl: accessUrl, cacheTtlMs: 0, headers: cerbosAccessHeaders({ CERBOS_ACCESS_CLIENT_ID: ID, CERBOS_ACCESS_CLIENT_SECRET: SECRET }) });
    expect(await client.isAllowed(principal, resource, 'create')).toBe(true);
    expect(await client.isAllowed({ ...principal, roles: ['user'] }, resource, 'create')).toBe(false);
    expect(seen.at(-1)?.['cf-access-client-id']).toBe(ID);
  });

  it('fails closed without the token or with a wrong one (Access redirects; the redirect is not followed), and the error names no secret', async () => {
    for (const headers of [{}, cerbosAccessHeaders({ CERBOS_ACCESS_CLIENT_ID: ID, CERBOS_ACCESS_CLIENT_SECRET: 'wrong-secret-value' })]) {
      const client = new CerbosClient({ baseUrl: accessUrl, cacheTtlMs: 0, headers });
      const err = await client.isAllowed(principal, resource, 'create').then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(PolicyUnavailableError);
      expect(String((err as Error).message)).toMatch(/HTTP 302/);
      expect(String((err as Error).message)).not.toContain('wrong-secret-value');
    }
  });

  it('refuses a half-configured token instead of calling Cerbos without it', () => {
    expect(cerbosAccessHeaders({})).toEqual({});
    expect(() => cerbosAccessHeaders({ CERBOS_ACCESS_CLIENT_ID: ID })).toThrow(/set together/);
    expect(() => cerbosAccessHeaders({ CERBOS_ACCESS_CLIENT_SECRET: SECRET })).toThrow(/set together/);
  });
});
