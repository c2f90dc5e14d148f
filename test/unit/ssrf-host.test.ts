/**
 * The SSRF rule for provider base URLs (lib/net/host.ts), shared by the admin API and the gateway.
 * Each refused URL below is one the outside review got through, or a sibling of one.
 */
import { describe, expect, it } from 'vitest';
import { checkUpstreamBaseUrl, isGloballyRoutableAddress, normaliseHost } from '../../lib/net/host';

const refused = (u: string) => checkUpstreamBaseUrl(u, false);

describe('upstream base URL check (private upstreams off)', () => {
  it('refuses the URLs the security review got through', () => {
    for (const u of ['https://localhost./v1', 'https://metadata.google.internal./', 'https://[::127.0.0.1]/v1', 'https://127.0.0.1.nip.io/v1']) {
      expect(refused(u), u).toMatchObject({ ok: false });
    }
  });

  it('normalises hosts: trailing dots, case, IDNA and every IPv4 spelling', () => {
    expect(normaliseHost('LOCALHOST..')).toBe('localhost');
    expect(normaliseHost('0x7f.1..')).toBe('127.0.0.1');
    for (const u of [
      'https://LOCALHOST/v1', 'https://ＬＯＣＡＬＨＯＳＴ/v1', 'https://localhost../v1', 'https://api.localhost/',
      'https://2130706433/', 'https://0x7f.1/', 'https://017700000001/', 'https://127.1/', 'https://0x7f000001./',
      'https://0/', 'https://[::1]/', 'https://[::]/', 'https://[0:0:0:0:0:ffff:7f00:1]/', 'https://[::ffff:10.0.0.1]/',
      'https://[64:ff9b::a9fe:a9fe]/', 'https://[2002:c0a8:0101::1]/', 'https://[fe80::1]/', 'https://[fc00::1]/',
      'https://[fd12:3456::1]/', 'https://[ff02::1]/', 'https://[2001:db8::1]/', 'https://[100::1]/', 'https://[2001::1]/',
    ]) {
      expect(refused(u), u).toMatchObject({ ok: false });
    }
  });

  it('refuses every IPv4 range that is not globally routable', () => {
    for (const ip of [
      '0.1.2.3', '10.9.8.7', '100.64.0.1', '100.100.100.200', '127.255.0.1', '169.254.169.254', '172.16.0.1', '172.31.255.255',
      '192.0.0.8', '192.0.2.1', '192.88.99.1', '192.168.0.1', '198.18.0.1', '198.19.255.1', '198.51.100.1', '203.0.113.1',
      '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255',
    ]) {
      expect(isGloballyRoutableAddress(ip), ip).toBe(false);
      expect(refused(`https://${ip}/v1`), ip).toMatchObject({ ok: false });
    }
  });

  it('refuses well-known internal names and wildcard-DNS names that embed an address', () => {
    for (const h of [
      'localhost', 'metadata', 'instance-data', 'metadata.google.internal', 'instance-data.ec2.internal', 'printer.local',
      'wiki.intranet', 'nas.lan', 'router.home.arpa', '1.0.0.127.in-addr.arpa', 'metadata.goog', 'api.test',
      '10.0.0.1.nip.io', 'app-7f000001.nip.io', '10-0-0-1.sslip.io', '--1.sslip.io', 'x.xip.io', 'anything.lvh.me',
      'foo.localtest.me', '127.0.0.1.example.com', 'ip-10-0-0-1.eu-west-1.compute.example.com', 'a..b',
    ]) {
      expect(refused(`https://${h}/v1`), h).toMatchObject({ ok: false });
    }
  });

  it('accepts public hosts and public addresses', () => {
    for (const u of [
      'https://api.openai.com/v1', 'https://api.anthropic.com', 'https://api.openai.com./v1', 'https://bücher.example.org/v1',
      'https://8.8.8.8/v1', 'https://[2606:4700::1111]/v1', 'https://[::ffff:8.8.8.8]/v1', 'https://[64:ff9b::808:808]/v1',
      'https://ec2-54-1-2-3.compute-1.amazonaws.com/v1',
    ]) {
      expect(refused(u), u).toMatchObject({ ok: true });
    }
  });

  it('refuses non-https, credentials and non-URLs; with private upstreams on, only those', () => {
    expect(refused('http://api.openai.com/v1')).toEqual({ ok: false, reason: 'must use https' });
    expect(refused('https://user:pw@api.openai.com/v1')).toEqual({ ok: false, reason: 'must not carry credentials' });
    expect(refused('not a url')).toEqual({ ok: false, reason: 'must be an absolute URL' });
    expect(refused('https://[::1')).toEqual({ ok: false, reason: 'must be an absolute URL' });
    expect(checkUpstreamBaseUrl('http://127.0.0.1:8080/v1', true)).toMatchObject({ ok: true });
    expect(checkUpstreamBaseUrl('file:///etc/passwd', true)).toMatchObject({ ok: false });
  });
});
