import { describe, expect, it } from 'vitest';
import { modelAllowed, parseModelName, patternWithin } from '../../lib/models';
import { ipInCidrs, isPrivateHost, isValidCidr } from '../../lib/net/cidr';

describe('CIDR allowlists', () => {
  it('matches IPv4 and IPv6 ranges', () => {
    expect(ipInCidrs('203.0.113.7', ['203.0.113.0/24'])).toBe(true);
    expect(ipInCidrs('203.0.114.7', ['203.0.113.0/24'])).toBe(false);
    expect(ipInCidrs('2001:db8::1', ['2001:db8::/32'])).toBe(true);
    expect(ipInCidrs('2001:db9::1', ['2001:db8::/32'])).toBe(false);
    expect(ipInCidrs('10.1.2.3', ['2001:db8::/32', '10.0.0.0/8'])).toBe(true);
  });

  it('treats IPv4-mapped IPv6 addresses as IPv4', () => {
    expect(ipInCidrs('::ffff:203.0.113.7', ['203.0.113.0/24'])).toBe(true);
  });

  it('matches nothing for a missing or malformed address', () => {
    expect(ipInCidrs(undefined, ['0.0.0.0/0'])).toBe(false);
    expect(ipInCidrs('not-an-ip', ['0.0.0.0/0'])).toBe(false);
  });

  it('validates CIDR strings', () => {
    expect(isValidCidr('10.0.0.0/8')).toBe(true);
    expect(isValidCidr('::1/128')).toBe(true);
    expect(isValidCidr('10.0.0.0/33')).toBe(false);
    expect(isValidCidr('10.0.0.0')).toBe(false);
  });

  it('recognises private, loopback and link-local upstream hosts', () => {
    for (const h of ['127.0.0.1', 'localhost', '10.0.0.5', '192.168.1.1', '172.16.0.1', '169.254.169.254', '[::1]', 'fe80::1', '0.0.0.0', 'metadata.internal']) {
      expect(isPrivateHost(h), h).toBe(true);
    }
    for (const h of ['api.openai.com', '8.8.8.8', '2606:4700::1111']) expect(isPrivateHost(h), h).toBe(false);
  });
});

describe('model names and scopes', () => {
  it('splits provider/model', () => {
    expect(parseModelName('openai/gpt-4o-mini')).toEqual({ provider: 'openai', model: 'gpt-4o-mini' });
    expect(parseModelName('openrouter/meta/llama')).toEqual({ provider: 'openrouter', model: 'meta/llama' });
    expect(parseModelName('gpt-4o')).toBeNull();
    expect(parseModelName('openai/')).toBeNull();
  });

  it('matches scope patterns', () => {
    expect(modelAllowed('openai/gpt-4o-mini', ['openai/*'])).toBe(true);
    expect(modelAllowed('anthropic/claude-sonnet-4-5', ['openai/*'])).toBe(false);
    expect(modelAllowed('openai/gpt-4o', ['openai/gpt-4o-mini'])).toBe(false);
    expect(modelAllowed('openai/gpt-4o-mini', ['*'])).toBe(true);
    expect(modelAllowed('openai.x/gpt', ['openai/*'])).toBe(false);
    expect(modelAllowed('anything', [])).toBe(false);
  });
});

describe('patternWithin (a key scope inside the organisation’s allowed models)', () => {
  it.each([
    ['openai/gpt-4o-mini', ['openai/*'], true],
    ['openai/*', ['openai/*'], true],
    ['openai/gpt-4o*', ['openai/*'], true],
    ['openai/*', ['openai/gpt-4o*'], false],
    ['*', ['openai/*', 'mock/*'], false],
    ['anything/at-all', ['*'], true],
    ['anthropic/claude-sonnet-4-5', ['openai/*', 'mock/*'], false],
    ['openai/gpt-*-mini', ['openai/*-mini'], false],
  ] as const)('%s within %j → %s', (key, org, expected) => {
    expect(patternWithin(key, org)).toBe(expected);
  });
});
