/** Redaction of provider-key fragments (worker/redact.ts) and the dummy hash for unknown key ids. */
import bcrypt from 'bcryptjs';
import { describe, expect, it } from 'vitest';
import { BCRYPT_COST } from '../../admin/actions';
import { DUMMY_SECRET_HASH, VIRTUAL_KEY_BCRYPT_COST } from '../../lib/crypto/virtual-key';
import { redactSecret, safeUpstreamRequestId } from '../../worker/redact';
import { claim } from '../support/claims';

const KEY = 'sk-ant-api03-Zq8Lw2Xc7Vb4Nm1Ks9Dj3Fh6Gt5Ry0Ue';

describe('redactSecret', () => {
  it('redacts Google API keys and AWS access key ids, whoever’s they are', () => {
    const google = `AIza${'Sy0123456789abcdefghijklmnopqrst_-A'}`;
    const aws = ['AKIAIOSFODNN7EXAMPLE', 'ASIAY34FZKBOKMUTVV7A'];
    expect(google).toHaveLength(39);
    for (const k of [google, ...aws]) {
      const out = redactSecret(`API key not valid: ${k}. Please pass a valid API key.`, null);
      expect(out).not.toContain(k);
      expect(out).toContain('API key not valid');
    }
    expect(redactSecret('AKIA is not a key, nor is AIzaShort', null)).toBe('AKIA is not a key, nor is AIzaShort');
  });

  it('leaves ordinary upstream messages alone', () => {
    for (const m of [
      'The model `gpt-5` does not exist or you do not have access to it.',
      'max_tokens: 100000 > 8192, which is the maximum allowed number of output tokens for claude-3-haiku',
      'Please wait... then retry.',
      'Request req_0123456789abcdef failed',
    ]) {
      expect(redactSecret(m, KEY)).toBe(m);
    }
  });

  it(claim('provider-keys-encrypted', 'redacts the key whole, partly, encoded, spaced out and masked'), () => {
    const forms = [
      KEY, KEY.toLowerCase(), KEY.slice(13, 25), `${KEY.slice(0, 14)}...${KEY.slice(-4)}`, `${KEY.slice(0, 7)}****${KEY.slice(-4)}`,
      btoa(KEY), btoa(KEY.slice(14, 30)), btoa(KEY).replace(/\+/g, '-').replace(/\//g, '_'),
      [...new TextEncoder().encode(KEY.slice(20, 32))].map((b) => b.toString(16).padStart(2, '0')).join(''),
      KEY.split('').join(' '), KEY.slice(13).split('').join('-'),
    ];
    for (const f of forms) {
      const out = redactSecret(`provider said: ${f} (end)`, KEY);
      expect(out, f).toContain('[redacted]');
      expect(out, f).not.toContain(f);
      expect(out.startsWith('provider said: '), f).toBe(true);
    }
  });

  it('drops request ids that are not short safe tokens or that carry the key', () => {
    const h = (id: string) => new Headers({ 'x-request-id': id });
    expect(safeUpstreamRequestId(h('req_abc123'), KEY)).toBe('req_abc123');
    expect(safeUpstreamRequestId(h(KEY), KEY)).toBeNull();
    expect(safeUpstreamRequestId(h(btoa(KEY).replace(/[+/=]/g, '')), KEY)).toBeNull();
    expect(safeUpstreamRequestId(h('a'.repeat(101)), KEY)).toBeNull();
    expect(safeUpstreamRequestId(h('req <x>'), KEY)).toBeNull();
  });
});

describe('dummy hash for unknown key ids', () => {
  it('has the cost the admin Worker hashes virtual keys with', () => {
    expect(bcrypt.getRounds(DUMMY_SECRET_HASH)).toBe(VIRTUAL_KEY_BCRYPT_COST);
    expect(BCRYPT_COST).toBe(VIRTUAL_KEY_BCRYPT_COST);
  });
});
