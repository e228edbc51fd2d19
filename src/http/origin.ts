/**
 * The scheme and host the `*Url` fields are built on when PUBLIC_URL is not set. They come from
 * the request (Host, and X-Forwarded-Proto / X-Forwarded-Host from proxies TRUST_PROXY trusts), so
 * they are checked: only http or https, and a host name or address with an optional port. Anything
 * else would put a client's text (`javascript://…`) into every URL the API returns.
 */
import type { Request } from 'express';

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOST = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[0-9a-f:.]+\\])(?::\\d{1,5})?$`, 'i');

/** `https://photos.example.com`-style origin of a request, or undefined when its headers are malformed. */
export function requestOrigin(request: Request): string | undefined {
  const protocol = request.protocol;
  const host = request.host;
  if ((protocol !== 'http' && protocol !== 'https') || typeof host !== 'string' || !HOST.test(host)) return undefined;
  return `${protocol}://${host.toLowerCase()}`;
}

/** Express's `trust proxy` from TRUST_PROXY: `true`, `false`, a hop count, or addresses and subnets. */
export function trustProxySetting(value: string): boolean | number | string {
  if (value === 'true' || value === 'false') return value === 'true';
  return /^\d+$/.test(value) ? Number(value) : value;
}
