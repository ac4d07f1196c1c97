// The bracketed-host check CPython's urlsplit() runs since 3.11.4
// (Lib/urllib/parse.py `_check_bracketed_host`), which validates with
// Lib/ipaddress.py. Airflow inherits it: `type://[not-an-ip]` raises ValueError.

/** IPv4Address parsing rules: four dotted decimal octets, no leading zeros, each <= 255. */
function isPyIPv4(s: string): boolean {
  if (s.length === 0 || s.includes('/')) return false;
  const octets = s.split('.');
  if (octets.length !== 4) return false;
  for (const o of octets) {
    if (!/^[0-9]{1,3}$/.test(o)) return false;
    if (o !== '0' && o.startsWith('0')) return false;
    if (Number(o) > 255) return false;
  }
  return true;
}

/** IPv6Address parsing rules, including a `%scope` suffix and an embedded IPv4 tail. */
function isPyIPv6(input: string): boolean {
  if (input.includes('/')) return false;
  let s = input;
  const pct = s.indexOf('%');
  if (pct !== -1) {
    const scope = s.slice(pct + 1);
    if (scope.length === 0 || scope.includes('%')) return false;
    s = s.slice(0, pct);
  }
  if (s.length === 0) return false;
  const parts = s.split(':');
  if (parts.length < 3) return false;
  const last = parts[parts.length - 1]!;
  if (last.includes('.')) {
    if (!isPyIPv4(last)) return false;
    parts.pop();
    parts.push('0', '0');
  }
  if (parts.length > 9) return false;
  let skipIndex: number | null = null;
  for (let i = 1; i < parts.length - 1; i++) {
    if (parts[i] === '') {
      if (skipIndex !== null) return false;
      skipIndex = i;
    }
  }
  let hi: number;
  let lo: number;
  if (skipIndex !== null) {
    hi = skipIndex;
    lo = parts.length - skipIndex - 1;
    if (parts[0] === '') {
      hi -= 1;
      if (hi) return false;
    }
    if (parts[parts.length - 1] === '') {
      lo -= 1;
      if (lo) return false;
    }
    if (8 - (hi + lo) < 1) return false;
  } else {
    if (parts.length !== 8) return false;
    if (parts[0] === '' || parts[parts.length - 1] === '') return false;
    hi = parts.length;
    lo = 0;
  }
  const hextets = [...parts.slice(0, hi), ...(lo ? parts.slice(parts.length - lo) : [])];
  return hextets.every((h) => /^[0-9a-fA-F]{1,4}$/.test(h));
}

export type BracketedHostProblem = 'ipv4_in_brackets' | 'invalid_ipvfuture' | 'invalid_ip';

/** `_check_bracketed_host`: null when valid, else why CPython raises ValueError. */
export function checkBracketedHost(hostname: string): BracketedHostProblem | null {
  if (hostname.startsWith('v')) {
    // \Av[a-fA-F0-9]+\..+\Z ; '.' does not match '\n'.
    return /^v[a-fA-F0-9]+\.[^\n]+$/.test(hostname) && !hostname.endsWith('\n') ? null : 'invalid_ipvfuture';
  }
  if (isPyIPv4(hostname)) return 'ipv4_in_brackets';
  if (isPyIPv6(hostname)) return null;
  return 'invalid_ip';
}
