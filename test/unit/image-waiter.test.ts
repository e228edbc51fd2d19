/**
 * The waits of `wait: true` uploads: they end when the image settles, and otherwise, with the
 * image as it is, when their time runs out, their client goes away or the waiter closes.
 */
import type { Image } from '../../src/generated/prisma/client.js';
import { createImageWaiter } from '../../src/services/image-waiter.js';

const ID = '00000000-0000-4000-8000-000000000001';

/** One image whose status the test sets, and the notifications a status change sends. */
function fixture() {
  const listeners = new Set<(id: string) => void>();
  let status: Image['status'] = 'PENDING';
  const waiter = createImageWaiter(
    {
      subscribe(listener) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    },
    async (id) => (id === ID ? ({ id, status } as Image) : null),
  );
  return {
    waiter,
    listeners,
    setStatus(next: Image['status']) {
      status = next;
      for (const listener of listeners) listener(ID);
    },
  };
}

it('resolves once the image is DONE, woken by its notification', async () => {
  const { waiter, setStatus, listeners } = fixture();
  const waiting = waiter.waitUntilSettled(ID, { timeoutMs: 60_000 });
  setStatus('PROCESSING');
  setStatus('DONE');
  expect((await waiting).status).toBe('DONE');
  expect(listeners.size).toBe(0);
});

it('resolves with the image still PENDING when its time runs out', async () => {
  const { waiter, listeners } = fixture();
  expect((await waiter.waitUntilSettled(ID, { timeoutMs: 50 })).status).toBe('PENDING');
  expect(listeners.size).toBe(0);
});

it('resolves with the image as it is when the signal aborts', async () => {
  const { waiter, setStatus } = fixture();
  const controller = new AbortController();
  const waiting = waiter.waitUntilSettled(ID, { timeoutMs: 60_000, signal: controller.signal });
  setStatus('PROCESSING');
  controller.abort();
  expect((await waiting).status).toBe('PROCESSING');
});

it('close() ends every wait, and later waits end at once', async () => {
  const { waiter } = fixture();
  const waits = [waiter.waitUntilSettled(ID, { timeoutMs: 60_000 }), waiter.waitUntilSettled(ID, { timeoutMs: 60_000 })];
  waiter.close();
  expect((await Promise.all(waits)).map((image) => image.status)).toEqual(['PENDING', 'PENDING']);
  expect((await waiter.waitUntilSettled(ID, { timeoutMs: 60_000 })).status).toBe('PENDING');
});

it('rejects when the image is deleted while waiting', async () => {
  const { waiter } = fixture();
  await expect(waiter.waitUntilSettled('00000000-0000-4000-8000-000000000002', { timeoutMs: 60_000 })).rejects.toThrow(/deleted/);
});
