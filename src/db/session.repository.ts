/**
 * Browser sessions (POST /session) kept in PostgreSQL, so that a logout on one server ends the
 * session on every server sharing the database. Rows are keyed by a digest of the cookie's token;
 * the token itself is never stored.
 */
import type { PrismaClient } from '../generated/prisma/client.js';

/** What a session lets its holder do: read (SEGCAT_READ_KEY) or also write (SEGCAT_API_KEY). */
export type SessionScope = 'read' | 'write';

/** A session to record. */
export interface NewSession {
  /** Digest of the cookie's token (64 hex characters). */
  id: string;
  scope: SessionScope;
  expiresAt: Date;
}

const TO_ROW = { read: 'READ', write: 'WRITE' } as const;

/** Session rows: one primary-key lookup per request that shows a session cookie. */
export class SessionRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /** Records a new session. */
  async create(session: NewSession): Promise<void> {
    await this.prisma.session.create({ data: { ...session, scope: TO_ROW[session.scope] } });
  }

  /** The scope of the session with this id, if it exists and has not expired by `now`. */
  async findLive(id: string, now: Date = new Date()): Promise<SessionScope | undefined> {
    const row = await this.prisma.session.findUnique({ where: { id }, select: { scope: true, expiresAt: true } });
    if (!row || row.expiresAt <= now) return undefined;
    return row.scope === 'WRITE' ? 'write' : 'read';
  }

  /** Ends a session; ending one that is already gone is not an error. */
  async delete(id: string): Promise<void> {
    await this.prisma.session.deleteMany({ where: { id } });
  }

  /** Removes sessions that expired before `now`; returns how many. */
  async deleteExpired(now: Date = new Date()): Promise<number> {
    const { count } = await this.prisma.session.deleteMany({ where: { expiresAt: { lte: now } } });
    return count;
  }
}
