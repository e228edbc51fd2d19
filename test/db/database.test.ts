import { pino } from 'pino';
import { loadConfig } from '../../src/config.js';
import { DatabaseUnavailableError, openDatabase } from '../../src/db/database.js';
import { freePort } from '../support/database-server.js';
import { createTestDatabase } from '../support/database.js';

const silent = pino({ level: 'silent' });

test('with DATABASE_URL: opens that database, migrated, and closes it', async () => {
  const db = await createTestDatabase({ migrated: false });
  try {
    const database = await openDatabase(loadConfig({ DATABASE_URL: db.url }), silent);
    await database.ping();
    expect(await database.prisma.image.count()).toBe(0);
    await database.close();
    await database.close();
  } finally {
    await db.drop();
  }
});

test('a PostgreSQL that is down is one clear line naming host:port and what to do', async () => {
  const port = await freePort();
  const config = loadConfig({ DATABASE_URL: `postgresql://segcat@127.0.0.1:${port}/segcat` });
  const opening = openDatabase(config, silent);
  await expect(opening).rejects.toBeInstanceOf(DatabaseUnavailableError);
  await expect(opening).rejects.toThrow(
    new RegExp(`^cannot reach PostgreSQL at 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\); start the server, or fix DATABASE_URL`),
  );
  const message = await opening.catch((error: Error) => error.message);
  expect(message).not.toContain('\n');
});
