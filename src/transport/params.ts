// Connection parameters (docs/protocol.md §4): `x-jetstream-*` headers and query keys, prefix
// removed. Keys that could reach an object prototype are dropped.
const PREFIX = 'x-jetstream-';

function unsafe(key: string): boolean {
  return key === '__proto__' || key === 'constructor' || key === 'prototype';
}

export function connectionParams(
  headers: Record<string, string | string[] | undefined>,
  url: string | undefined,
): Record<string, string> {
  const params: Record<string, string> = Object.create(null);
  for (const name of Object.keys(headers)) {
    const lower = name.toLowerCase();
    if (lower.length > PREFIX.length && lower.startsWith(PREFIX)) {
      const key = lower.slice(PREFIX.length);
      const v = headers[name];
      if (!unsafe(key) && v !== undefined) params[key] = Array.isArray(v) ? v.join(', ') : v;
    }
  }
  if (url) {
    const q = url.indexOf('?');
    if (q >= 0) {
      for (const [name, value] of new URLSearchParams(url.slice(q + 1))) {
        if (name.length > PREFIX.length && name.slice(0, PREFIX.length).toLowerCase() === PREFIX) {
          const key = name.slice(PREFIX.length);
          if (!unsafe(key)) params[key] = value;
        }
      }
    }
  }
  return params;
}
