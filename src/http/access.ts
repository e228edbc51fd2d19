/**
 * API keys: SEGCAT_API_KEY guards every write, SEGCAT_READ_KEY (when set) every read. A key comes
 * as `Authorization: Bearer <key>`, or, for browsers (an <img> cannot send headers), as a session
 * cookie that `POST /session` sets once the key has been shown: an HMAC of its scope and expiry
 * under the key itself, so changing a key ends its sessions. Everything is compared in constant
 * time, on digests so that lengths do not leak either.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import express, { Router, type Request, type Response } from 'express';

/** What a request may do. */
export interface Access {
  read: boolean;
  write: boolean;
}

/** The configured keys. */
export interface Keys {
  apiKey?: string;
  readKey?: string;
}

/** Name of the session cookie. */
export const SESSION_COOKIE = 'segcat_session';
/** How long a browser session lasts, in seconds. */
const SESSION_SECONDS = 12 * 60 * 60;

type Scope = 'read' | 'write';

/** Works out a request's access from its bearer key or session cookie. */
export function accessOf(request: Request, keys: Keys): Access {
  const presented = /^Bearer\s+(.+)$/i.exec(request.get('authorization') ?? '')?.[1]?.trim();
  const session = sessionScope(cookieOf(request, SESSION_COOKIE), keys);
  const matches = (key: string | undefined) => key !== undefined && presented !== undefined && sameSecret(presented, key);
  const writeKey = matches(keys.apiKey) || session === 'write';
  const write = keys.apiKey === undefined || writeKey;
  // The API key also reads; but with no API key set, anyone may write, and that must not open reads.
  const read = keys.readKey === undefined || writeKey || matches(keys.readKey) || session === 'read';
  return { read, write };
}

/**
 * POST /session with the key (`{"key": "..."}` or a bearer header) sets the session cookie;
 * DELETE /session clears it.
 */
export function sessionRouter(keys: Keys): Router {
  const router = Router();
  router.post('/', express.json({ limit: '4kb' }), (request: Request, response: Response) => {
    const body = request.body as { key?: unknown } | undefined;
    const key = typeof body?.key === 'string' ? body.key : /^Bearer\s+(.+)$/i.exec(request.get('authorization') ?? '')?.[1]?.trim();
    const scope: Scope | undefined =
      key === undefined ? undefined
      : keys.apiKey !== undefined && sameSecret(key, keys.apiKey) ? 'write'
      : keys.readKey !== undefined && sameSecret(key, keys.readKey) ? 'read'
      : undefined;
    if (!scope) return void response.status(401).json({ error: 'that key is not SEGCAT_API_KEY or SEGCAT_READ_KEY' });
    const expires = Math.floor(Date.now() / 1000) + SESSION_SECONDS;
    const token = `${scope}.${expires}.${mac(keyFor(scope, keys)!, scope, expires)}`;
    response.cookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: request.secure,
      path: '/',
      maxAge: SESSION_SECONDS * 1000,
    });
    response.json({ scope, expiresAt: new Date(expires * 1000).toISOString() });
  });
  router.delete('/', (_request, response) => {
    response.clearCookie(SESSION_COOKIE, { path: '/' }).status(204).end();
  });
  return router;
}

/** The scope a session token proves, if it is genuine and unexpired. */
function sessionScope(token: string | undefined, keys: Keys): Scope | undefined {
  const [scope, expiresText, presented] = token?.split('.') ?? [];
  if ((scope !== 'read' && scope !== 'write') || !presented || !/^\d+$/.test(expiresText ?? '')) return undefined;
  const key = keyFor(scope, keys);
  const expires = Number(expiresText);
  if (key === undefined || expires * 1000 < Date.now()) return undefined;
  return sameSecret(presented, mac(key, scope, expires)) ? scope : undefined;
}

function keyFor(scope: Scope, keys: Keys): string | undefined {
  return scope === 'write' ? keys.apiKey : keys.readKey;
}

function mac(key: string, scope: Scope, expires: number): string {
  return createHmac('sha256', key).update(`segcat-session:${scope}:${expires}`).digest('base64url');
}

/** One cookie's value from the Cookie header (no parser needed for one name). */
function cookieOf(request: Request, name: string): string | undefined {
  for (const part of (request.get('cookie') ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function sameSecret(presented: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}
