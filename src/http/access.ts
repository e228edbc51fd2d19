/**
 * API keys: SEGCAT_API_KEY guards every write, SEGCAT_READ_KEY (when set) every read. A key comes
 * as `Authorization: Bearer <key>`, or, for browsers (an <img> cannot send headers), as a session
 * cookie that `POST /session` sets once the key has been shown.
 *
 * A session lives in PostgreSQL (SessionRepository), so `DELETE /session` ends it at once on every
 * server sharing the database. The cookie holds `<scope>.<expiry>.<random token>`; the row is
 * named by an HMAC of that whole value under the scope's key, so the database never holds the
 * token, any edit of the cookie finds no row, and changing a key ends its sessions. Keys are
 * compared in constant time, on digests so that lengths do not leak either.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import type { SessionRepository, SessionScope } from '../db/session.repository.js';
import type { RateLimiter } from './rate-limit.js';

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
/** `<scope>.<expiry, unix seconds>.<32 random bytes, base64url>`. */
const TOKEN_PATTERN = /^(read|write)\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

const resolved = new WeakMap<Request, Access>();

/**
 * Middleware that works out the request's access once, for `accessFrom`: the bearer key, else at
 * most one primary-key lookup of the session cookie. Nothing is cached across requests, so a
 * logout on any server counts on the very next request here.
 */
export function resolveAccess(keys: Keys, sessions: SessionRepository): RequestHandler {
  return async (request, _response, next) => {
    resolved.set(request, await accessOf(request, keys, sessions));
    next();
  };
}

/** The access `resolveAccess` worked out for this request. */
export function accessFrom(request: Request): Access {
  const access = resolved.get(request);
  if (!access) throw new Error(`no access resolved for ${request.method} ${request.path}: mount resolveAccess() before this route`);
  return access;
}

async function accessOf(request: Request, keys: Keys, sessions: SessionRepository): Promise<Access> {
  const viaBearer = scopeOfKey(bearerOf(request), keys);
  const byBearer = grant(keys, viaBearer);
  // The database is asked only when the cookie could add something.
  if (byBearer.read && byBearer.write) return byBearer;
  return grant(keys, viaBearer, await sessionScope(cookieOf(request, SESSION_COOKIE), keys, sessions));
}

/** What the given proven scopes allow under the configured keys. */
function grant(keys: Keys, ...scopes: (SessionScope | undefined)[]): Access {
  const writeKey = scopes.includes('write');
  // The API key also reads; but with no API key set, anyone may write, and that must not open reads.
  return {
    write: keys.apiKey === undefined || writeKey,
    read: keys.readKey === undefined || writeKey || scopes.includes('read'),
  };
}

/** Dependencies of the /session router. */
export interface SessionRouterDeps {
  keys: Keys;
  sessions: SessionRepository;
  /** Limits wrong keys per client IP (SESSION_RATE_LIMIT_*). */
  limiter: RateLimiter;
}

/**
 * POST /session with the key (`{"key": "..."}` or a bearer header) records a session and sets
 * its cookie; DELETE /session deletes the session's row and clears the cookie.
 */
export function sessionRouter({ keys, sessions, limiter }: SessionRouterDeps): Router {
  const router = Router();
  router.post('/', express.json({ limit: '4kb' }), async (request: Request, response: Response) => {
    const client = request.ip ?? request.socket.remoteAddress ?? 'unknown';
    // Every attempt takes a token and a right key gives it back: a client that used up its
    // tokens waits even with the right key, or the limit would not slow guessing at all.
    const wait = limiter.take(client);
    if (wait > 0) {
      response.set('Retry-After', String(wait));
      return void response.status(429).json({ error: `too many wrong keys from this address; try again in ${wait} s` });
    }
    const body = request.body as { key?: unknown } | undefined;
    const scope = scopeOfKey(typeof body?.key === 'string' ? body.key : bearerOf(request), keys);
    if (!scope) return void response.status(401).json({ error: 'that key is not SEGCAT_API_KEY or SEGCAT_READ_KEY' });
    limiter.refund(client);
    const now = new Date();
    const expires = Math.floor(now.getTime() / 1000) + SESSION_SECONDS;
    const token = `${scope}.${expires}.${randomBytes(32).toString('base64url')}`;
    // Logins are rare and rate limited: a fine moment to clear out expired rows.
    await sessions.deleteExpired(now);
    await sessions.create({ id: sessionId(keyFor(scope, keys)!, token), scope, expiresAt: new Date(expires * 1000) });
    response.cookie(SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'strict',
      secure: request.secure,
      path: '/',
      maxAge: SESSION_SECONDS * 1000,
    });
    response.json({ scope, expiresAt: new Date(expires * 1000).toISOString() });
  });
  router.delete('/', async (request, response) => {
    const session = parseToken(cookieOf(request, SESSION_COOKIE));
    const key = session && keyFor(session.scope, keys);
    // Without its key a row cannot be named; it is unusable already and goes once expired.
    if (session && key !== undefined) await sessions.delete(sessionId(key, session.token));
    response.clearCookie(SESSION_COOKIE, { path: '/' }).status(204).end();
  });
  return router;
}

/** The scope a session cookie proves: well-formed, unexpired, its key still set, and its row live. */
async function sessionScope(cookie: string | undefined, keys: Keys, sessions: SessionRepository): Promise<SessionScope | undefined> {
  const session = parseToken(cookie);
  const key = session && keyFor(session.scope, keys);
  // The readable scope and expiry spare the database cookies that cannot be good anyway.
  if (!session || key === undefined || session.expires * 1000 <= Date.now()) return undefined;
  const stored = await sessions.findLive(sessionId(key, session.token));
  return stored === session.scope ? stored : undefined;
}

/** A session cookie's parts, if it has the shape POST /session gives it. */
function parseToken(token: string | undefined): { token: string; scope: SessionScope; expires: number } | undefined {
  const match = TOKEN_PATTERN.exec(token ?? '');
  return match ? { token: match[0], scope: match[1] as SessionScope, expires: Number(match[2]) } : undefined;
}

/** Names a session's row; keyed by the scope's key, so a new key finds none of the old rows. */
function sessionId(key: string, token: string): string {
  return createHmac('sha256', key).update(`segcat-session:${token}`).digest('hex');
}

function keyFor(scope: SessionScope, keys: Keys): string | undefined {
  return scope === 'write' ? keys.apiKey : keys.readKey;
}

/** Which key this is, if any; the API key wins when both are the same. */
function scopeOfKey(presented: string | undefined, keys: Keys): SessionScope | undefined {
  if (presented === undefined) return undefined;
  if (keys.apiKey !== undefined && sameSecret(presented, keys.apiKey)) return 'write';
  if (keys.readKey !== undefined && sameSecret(presented, keys.readKey)) return 'read';
  return undefined;
}

function bearerOf(request: Request): string | undefined {
  return /^Bearer\s+(.+)$/i.exec(request.get('authorization') ?? '')?.[1]?.trim();
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
