/**
 * The one SSRF rule for upstream base URLs, used by the admin API (refuses to store the URL: 400
 * naming `base_url`) and by the gateway (refuses to call it: 502 "misconfigured").
 *
 * What it can check: the URL itself. Host names are normalised the way `fetch` will see them — the
 * WHATWG URL parser lower-cases, applies IDNA (UTS #46, so `ＬＯＣＡＬＨＯＳＴ` is `localhost`) and
 * turns decimal, octal and hex IPv4 forms (`2130706433`, `0x7f.1`, `017700000001`) into dotted
 * decimal — then trailing dots are stripped (`localhost.` is the fully qualified `localhost`) and the
 * result parsed again until it is stable. An address literal must be globally routable; a name must
 * not be one of the well-known internal names, nor a wildcard-DNS name that embeds an address.
 *
 * What it cannot check: where a public name resolves. A Worker cannot resolve DNS before `fetch`,
 * so a public name whose DNS answers with a private address (DNS rebinding) is outside what the
 * gateway sees. README "Upstream URLs and SSRF" says what protects that case.
 */
import ipaddr from 'ipaddr.js';

export type UpstreamUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/**
 * IPv4 ranges that are not globally reachable, from the IANA IPv4 Special-Purpose Address Registry
 * (RFC 6890 and its updates), plus multicast (RFC 5771), reserved (RFC 1112) and broadcast.
 */
const NON_GLOBAL_V4 = [
  '0.0.0.0/8', // "this network" (RFC 791)
  '10.0.0.0/8', // private (RFC 1918)
  '100.64.0.0/10', // carrier-grade NAT shared space (RFC 6598); Alibaba's metadata service lives here
  '127.0.0.0/8', // loopback (RFC 1122)
  '169.254.0.0/16', // link-local (RFC 3927): cloud metadata services (169.254.169.254)
  '172.16.0.0/12', // private (RFC 1918)
  '192.0.0.0/24', // IETF protocol assignments (RFC 6890)
  '192.0.2.0/24', // TEST-NET-1 (RFC 5737)
  '192.88.99.0/24', // deprecated 6to4 relay anycast (RFC 7526)
  '192.168.0.0/16', // private (RFC 1918)
  '198.18.0.0/15', // benchmarking (RFC 2544)
  '198.51.100.0/24', // TEST-NET-2 (RFC 5737)
  '203.0.113.0/24', // TEST-NET-3 (RFC 5737)
  '224.0.0.0/4', // multicast (RFC 5771)
  '240.0.0.0/4', // reserved (RFC 1112), includes 255.255.255.255 (limited broadcast, RFC 919)
].map((c) => ipaddr.parseCIDR(c));

/**
 * IPv6: only global unicast (2000::/3, RFC 4291 §2.4) can be globally routable, so everything
 * outside it (::, ::1, IPv4-compatible ::/96, 100::/64 discard, fc00::/7 unique local, fe80::/10
 * link-local, ff00::/8 multicast, …) is refused, and so are these special ranges inside it.
 * IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96, RFC 6052) addresses reach their embedded
 * IPv4 address, so they are judged by it; so are 6to4 addresses (2002::/16, RFC 3056).
 */
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');
const NON_GLOBAL_V6_IN_GLOBAL_UNICAST = [
  '2001::/23', // IETF protocol assignments (RFC 2928): Teredo, ORCHIDv2, benchmarking …
  '2001:db8::/32', // documentation (RFC 3849)
  '3fff::/20', // documentation (RFC 9637)
].map((c) => ipaddr.parseCIDR(c));

function isGlobalV4(addr: ipaddr.IPv4): boolean {
  return !NON_GLOBAL_V4.some((range) => addr.match(range as [ipaddr.IPv4, number]));
}

function embeddedV4(bytes: number[], offset: number): ipaddr.IPv4 {
  return new ipaddr.IPv4(bytes.slice(offset, offset + 4));
}

function isGlobalV6(addr: ipaddr.IPv6): boolean {
  const bytes = addr.toByteArray();
  if (addr.isIPv4MappedAddress()) return isGlobalV4(addr.toIPv4Address());
  if (addr.match(ipaddr.parseCIDR('64:ff9b::/96') as [ipaddr.IPv6, number])) return isGlobalV4(embeddedV4(bytes, 12));
  if (addr.match(ipaddr.parseCIDR('2002::/16') as [ipaddr.IPv6, number])) return isGlobalV4(embeddedV4(bytes, 2));
  if (!addr.match(GLOBAL_UNICAST_V6 as [ipaddr.IPv6, number])) return false;
  return !NON_GLOBAL_V6_IN_GLOBAL_UNICAST.some((range) => addr.match(range as [ipaddr.IPv6, number]));
}

/** Is this address literal (IPv4 dotted decimal or IPv6, brackets allowed) globally routable? */
export function isGloballyRoutableAddress(literal: string): boolean {
  const text = literal.replace(/^\[|\]$/g, '');
  if (!ipaddr.isValid(text)) return false;
  const addr = ipaddr.parse(text);
  return addr.kind() === 'ipv4' ? isGlobalV4(addr as ipaddr.IPv4) : isGlobalV6(addr as ipaddr.IPv6);
}

/**
 * Names that resolve inside the operator's or the cloud's network. Special-use names (RFC 6761,
 * RFC 6762 `.local`, RFC 8375 `.home.arpa`, RFC 9476 `.alt`, ICANN's 2024 `.internal`), common
 * private suffixes, and the cloud metadata names.
 */
const INTERNAL_SUFFIXES = [
  'localhost', 'local', 'localdomain', 'internal', 'intranet', 'lan', 'home', 'corp', 'private',
  'arpa', 'test', 'example', 'invalid', 'onion', 'alt', 'metadata.goog',
];

/**
 * Public wildcard-DNS services that answer any name with the address written inside it
 * (`127.0.0.1.nip.io`, `10-0-0-1.sslip.io`, `7f000001.nip.io`, `--1.sslip.io` for ::1) or always
 * with loopback (`lvh.me`, `localtest.me`). None of them is ever a real provider.
 */
const WILDCARD_DNS_SUFFIXES = [
  'nip.io', 'sslip.io', 'xip.io', 'xip.name', 'nip.direct', 'localtest.me', 'lvh.me', 'vcap.me',
  'lacolhost.com', 'localhost.direct', 'traefik.me',
];

function hasSuffix(host: string, suffix: string): boolean {
  return host === suffix || host.endsWith(`.${suffix}`);
}

/** An IPv4 address written inside a name: dotted labels, dashed (`10-0-0-1`) or 8 hex digits. */
function embeddedNonGlobalV4(host: string): boolean {
  const candidates: string[] = [];
  const labels = host.split('.');
  for (let i = 0; i + 4 <= labels.length; i++) {
    const four = labels.slice(i, i + 4);
    if (four.every((l) => /^\d{1,3}$/.test(l))) candidates.push(four.join('.'));
  }
  for (const m of host.matchAll(/(?<![0-9])(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})(?![0-9])/g)) {
    candidates.push(`${m[1]}.${m[2]}.${m[3]}.${m[4]}`);
  }
  for (const label of labels) {
    const hex = /(?:^|-)([0-9a-f]{8})$/.exec(label)?.[1];
    if (hex) candidates.push(ipaddr.fromByteArray([0, 2, 4, 6].map((i) => parseInt(hex.slice(i, i + 2), 16))).toString());
  }
  return candidates.some((c) => ipaddr.IPv4.isValidFourPartDecimal(c) && !isGlobalV4(ipaddr.IPv4.parse(c)));
}

/**
 * The host as `fetch` will reach it: parsed by the URL parser (lower case, IDNA, IPv4 forms), with
 * trailing dots removed, parsed again until stable. Null when it is not a valid host.
 */
export function normaliseHost(hostname: string): string | null {
  let host = hostname;
  for (let round = 0; round < 4; round++) {
    const stripped = host.replace(/\.+$/, '');
    if (stripped === '') return null;
    let reparsed: string;
    try {
      reparsed = new URL(`https://${stripped.includes(':') && !stripped.startsWith('[') ? `[${stripped}]` : stripped}/`).hostname;
    } catch {
      return null;
    }
    if (reparsed === host) return host;
    host = reparsed;
  }
  return null;
}

/** Why this host must not be an upstream, or null when it may be. */
export function nonPublicHostReason(hostname: string): string | null {
  const host = normaliseHost(hostname);
  if (!host) return 'has no valid host name';
  if (host.startsWith('[') || /^\d+\.\d+\.\d+\.\d+$/.test(host)) {
    return isGloballyRoutableAddress(host) ? null : 'must not point at a private, loopback or otherwise non-public address';
  }
  if (!host.includes('.') || host.split('.').some((l) => l === '')) return 'must name a public host (a fully qualified domain name)';
  if (INTERNAL_SUFFIXES.some((s) => hasSuffix(host, s))) return 'must not name an internal host';
  if (WILDCARD_DNS_SUFFIXES.some((s) => hasSuffix(host, s))) return 'must not use a wildcard-DNS name that maps to an address';
  if (embeddedNonGlobalV4(host)) return 'must not use a name that embeds a private address';
  return null;
}

/** Kept for callers that only ask yes or no. */
export function isPrivateHost(hostname: string): boolean {
  return nonPublicHostReason(hostname) !== null;
}

/**
 * The shared check for a provider base URL: absolute, http(s), https unless private upstreams are
 * allowed, no credentials, and (unless private upstreams are allowed) a public host.
 */
export function checkUpstreamBaseUrl(raw: string, allowPrivate: boolean): UpstreamUrlCheck {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, reason: 'must be an absolute URL' };
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) return { ok: false, reason: 'must use https' };
  if (url.username || url.password) return { ok: false, reason: 'must not carry credentials' };
  if (!allowPrivate) {
    const reason = nonPublicHostReason(url.hostname);
    if (reason) return { ok: false, reason };
  }
  return { ok: true, url };
}
