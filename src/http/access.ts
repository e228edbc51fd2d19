/**
 * API keys: SEGCAT_API_KEY guards every write, SEGCAT_READ_KEY (when set) every read. Keys are
 * compared in constant time, on digests so that their lengths do not leak either.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';

/** What a request may do. */
export interface Access {
  read: boolean;
  write: boolean;
}

/** Works out a request's access from its `Authorization: Bearer <key>` header. */
export function accessOf(request: Request, keys: { apiKey?: string; readKey?: string }): Access {
  const presented = /^Bearer\s+(.+)$/i.exec(request.get('authorization') ?? '')?.[1]?.trim();
  const matches = (key: string | undefined) => key !== undefined && presented !== undefined && sameKey(presented, key);
  const write = keys.apiKey === undefined || matches(keys.apiKey);
  const read = keys.readKey === undefined || matches(keys.readKey) || (keys.apiKey !== undefined && matches(keys.apiKey));
  return { read, write };
}

function sameKey(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
