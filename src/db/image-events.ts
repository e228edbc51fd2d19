/**
 * Image status changes through PostgreSQL NOTIFY: announced in the transaction that makes them,
 * and heard on one dedicated connection per process. The connection is re-opened after errors;
 * anything missed meanwhile is caught by the waiters' poll.
 */
import pg from 'pg';
import type { Logger } from 'pino';
import type { ImageStatus, Prisma } from '../generated/prisma/client.js';
import type { ImageEvents } from '../services/image-waiter.js';

/** PostgreSQL NOTIFY channel on which every image status change is announced as `{ id, status }`. */
export const IMAGE_EVENTS_CHANNEL = 'segcat_image_events';

/** What an image event announces: the image's new status, or its deletion. */
export type ImageEventStatus = ImageStatus | 'DELETED';

/** The NOTIFY payload of one image event. */
export function imageEventPayload(id: string, status: ImageEventStatus): string {
  return JSON.stringify({ id, status });
}

/** Announces, once `tx` commits, that these images changed state: waiting uploads in any process wake. */
export async function notifyImageEvents(tx: Prisma.TransactionClient, ids: string[], status: ImageEventStatus): Promise<void> {
  for (const id of ids) {
    await tx.$executeRaw`SELECT pg_notify(${IMAGE_EVENTS_CHANNEL}, ${imageEventPayload(id, status)})`;
  }
}

const RECONNECT_DELAY_MS = 1000;

/** A running LISTEN connection; `close()` ends it. */
export interface ImageEventListener extends ImageEvents {
  close(): Promise<void>;
}

/** Starts listening for image status changes. */
export async function listenForImageEvents(databaseUrl: string, logger: Logger): Promise<ImageEventListener> {
  const listeners = new Set<(imageId: string, status?: string) => void>();
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: databaseUrl, application_name: 'segcat-events' });
    next.on('notification', (message) => {
      const event = parseImageEvent(message.payload);
      if (event) for (const listener of listeners) listener(event.id, event.status);
    });
    next.on('error', (error) => {
      logger.warn({ err: error }, 'image event connection lost; reconnecting');
      next.end().catch(() => undefined);
      scheduleReconnect();
    });
    await next.connect();
    await next.query(`LISTEN ${IMAGE_EVENTS_CHANNEL}`);
    client = next;
  };

  const scheduleReconnect = () => {
    client = undefined;
    if (closed || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect().catch(scheduleReconnect);
    }, RECONNECT_DELAY_MS);
    retry.unref();
  };

  await connect();
  return {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      await client?.end();
    },
  };
}

function parseImageEvent(payload: string | undefined): { id: string; status?: string } | undefined {
  try {
    const parsed = JSON.parse(payload ?? '') as { id?: unknown; status?: unknown };
    if (typeof parsed.id !== 'string') return undefined;
    return { id: parsed.id, status: typeof parsed.status === 'string' ? parsed.status : undefined };
  } catch {
    return undefined;
  }
}
