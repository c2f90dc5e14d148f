/** CIDR allowlists (IPv4 and IPv6) with ipaddr.js; IPv4-mapped IPv6 addresses match IPv4 ranges. */
import ipaddr from 'ipaddr.js';

export function isValidCidr(cidr: string): boolean {
  try {
    ipaddr.parseCIDR(cidr);
    return true;
  } catch {
    return false;
  }
}

function normalize(addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
    return (addr as ipaddr.IPv6).toIPv4Address();
  }
  return addr;
}

/** True when `ip` is inside any of `cidrs`. An unparsable address matches nothing. */
export function ipInCidrs(ip: string | null | undefined, cidrs: readonly string[]): boolean {
  if (!ip || !ipaddr.isValid(ip)) return false;
  const addr = normalize(ipaddr.parse(ip));
  for (const cidr of cidrs) {
    let range: [ipaddr.IPv4 | ipaddr.IPv6, number];
    try {
      range = ipaddr.parseCIDR(cidr);
    } catch {
      continue;
    }
    if (addr.kind() === range[0].kind() && addr.match(range)) return true;
  }
  return false;
}

/** The SSRF host rule lives in ./host (one checker for the admin API and the gateway). */
export { isPrivateHost } from './host';
