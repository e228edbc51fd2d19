/**
 * A DATA_DIR belongs to one catalogue (issue 10, finding 1). Start-up with a database that is not
 * the folder's catalogue is refused, with one line that says what to do, before any file of the
 * folder is touched: the case of `npm start` (embedded PostgreSQL under ./data) followed by a start
 * with DATABASE_URL and the default DATA_DIR. Commands that open the database (here `segcat
 * thumbnails`, run as users run it, from the build in dist/) go through the same check.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, unlink, utimes } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { loadConfig } from '../../src/config.js';
import { startRuntime } from '../../src/runtime.js';
import { runSegcat } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { freePort, photo } from '../support/server.js';
import { listTree } from './raw-http.js';


const databases: TestDatabase[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const database of databases) await database.drop();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function database(): Promise<TestDatabase> {
  const created = await createTestDatabase();
  databases.push(created);
  return created;
}

async function folder(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'segcat-identity-'));
  dirs.push(dir);
  return dir;
}

const configFor = (db: TestDatabase, dataDir: string) =>
  loadConfig({ DATABASE_URL: db.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent', NODE_ENV: 'test' });

/**
 * Starts on `db` and `dataDir` (or with a whole config, for the embedded database), catalogues one
 * photo (segmented, so with masks), and stops.
 */
async function catalogueOnePhoto(db: TestDatabase | ReturnType<typeof loadConfig>, dataDir: string): Promise<void> {
  const runtime = await startRuntime('url' in db ? configFor(db, dataDir) : db, { http: false, worker: true });
  try {
    const { image } = await runtime.services.ingest.ingest({ filename: 'dog.jpg', stream: Readable.from(await photo('dog.jpg')) }, { wait: true });
    expect(image.status).toBe('DONE');
  } finally {
    await runtime.close();
  }
}

/**
 * Every stored file with its size and modification time, after setting them an hour back: old
 * enough for the reconciler's staleness rule, so that a start that wrongly took them for orphans
 * would remove them.
 */
async function ageAndSnapshot(dataDir: string): Promise<Record<string, string>> {
  const hourAgo = new Date(Date.now() - 60 * 60 * 1000);
  const files = (await listTree(dataDir)).filter((file) => /^(originals|thumbnails|masks|cutouts)\//.test(file));
  expect(files.length).toBeGreaterThan(3);
  for (const file of files) await utimes(path.join(dataDir, file), hourAgo, hourAgo);
  return snapshot(dataDir);
}

async function snapshot(dataDir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const file of await listTree(dataDir)) {
    if (file.startsWith('postgres')) continue;
    const info = await stat(path.join(dataDir, file));
    result[file] = `${info.size}@${info.mtimeMs}`;
  }
  return result;
}

/** Runs `segcat <args>` from the build, as a user would. */
const segcat = (args: string[], env: Record<string, string>) => runSegcat(args, env);

const marker = async (dataDir: string) => JSON.parse(await readFile(path.join(dataDir, 'catalogue.json'), 'utf8')) as { id: string };
const databaseId = async (db: TestDatabase) => (await db.prisma.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM "Catalogue"`).map((row) => row.id);

it('refuses a database that is not the catalogue of DATA_DIR, with one line, and touches none of its files', async () => {
  const [a, b, dataDir] = [await database(), await database(), await folder()];
  await catalogueOnePhoto(a, dataDir);
  const before = await ageAndSnapshot(dataDir);
  const { id } = await marker(dataDir);
  expect(await databaseId(a)).toEqual([id]);

  // In-process, as the runtime's callers see it.
  const refusal = startRuntime(configFor(b, dataDir), { http: false, worker: true });
  await expect(refusal).rejects.toThrow(new RegExp(`^DATA_DIR ${dataDir} belongs to catalogue ${id}, but the database .* (is not|is catalogue)`));
  await expect(refusal).rejects.toThrow(/use a new DATA_DIR for this database/);

  // From the command line: exit code 1 and exactly one line on stderr.
  const cli = await segcat(['thumbnails'], { DATABASE_URL: b.url, DATA_DIR: dataDir });
  expect(cli.code).toBe(1);
  expect(cli.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^segcat: DATA_DIR ${dataDir} belongs to catalogue ${id}, but`))]);

  expect(await snapshot(dataDir)).toEqual(before);
  expect(await databaseId(b)).toEqual([]);
  expect(await b.prisma.image.count()).toBe(0);

  // Its own database still opens it, and everything is still there.
  const again = await startRuntime(configFor(a, dataDir), { http: false, worker: false });
  await again.close();
  expect(Object.keys(await snapshot(dataDir))).toEqual(expect.arrayContaining(Object.keys(before)));
}, 180_000);

it('refuses a database that has a catalogue id of its own, and writes the marker into a new, empty DATA_DIR', async () => {
  const [a, b, first, second] = [await database(), await database(), await folder(), await folder()];
  await catalogueOnePhoto(a, first);
  await (await startRuntime(configFor(b, second), { http: false, worker: false })).close();
  const [idA, idB] = [(await marker(first)).id, (await marker(second)).id];
  expect(idB).not.toBe(idA);
  expect(await databaseId(b)).toEqual([idB]);

  const before = await ageAndSnapshot(first);
  await expect(startRuntime(configFor(b, first), { http: false, worker: false })).rejects.toThrow(
    new RegExp(`^DATA_DIR ${first} belongs to catalogue ${idA}, but the database .* is catalogue ${idB}: `),
  );
  expect(await snapshot(first)).toEqual(before);

  // A second server of catalogue A with a DATA_DIR of its own, still empty, adopts it.
  const third = await folder();
  await (await startRuntime(configFor(a, third), { http: false, worker: false })).close();
  expect((await marker(third)).id).toBe(idA);
}, 180_000);

it('adopts an installation from before catalogue ids, and refuses a folder of stored files the database does not know', async () => {
  const [a, b, dataDir] = [await database(), await database(), await folder()];
  await catalogueOnePhoto(a, dataDir);
  // What an upgrade finds: the migration made an empty Catalogue table, and there is no marker.
  await a.prisma.$executeRaw`DELETE FROM "Catalogue"`;
  await unlink(path.join(dataDir, 'catalogue.json'));
  const before = await ageAndSnapshot(dataDir);

  // An empty database has no claim on a folder that holds another catalogue's files.
  await expect(startRuntime(configFor(b, dataDir), { http: false, worker: false })).rejects.toThrow(
    new RegExp(`^DATA_DIR ${dataDir} holds stored files that the database .* does not know, and no catalogue\\.json: `),
  );
  expect(existsSync(path.join(dataDir, 'catalogue.json'))).toBe(false);
  expect(await snapshot(dataDir)).toEqual(before);

  await (await startRuntime(configFor(a, dataDir), { http: false, worker: false })).close();
  const { id } = await marker(dataDir);
  expect(await databaseId(a)).toEqual([id]);
  expect(Object.keys(await snapshot(dataDir))).toEqual(expect.arrayContaining(Object.keys(before)));
}, 180_000);

it('refuses the folder of `npm start` (embedded database) to a start with DATABASE_URL, and back', async () => {
  const [b, dataDir, folderOfB] = [await database(), await folder(), await folder()];
  const embedded = (dir: string, port: number) =>
    loadConfig({ DATABASE_URL: '', DATA_DIR: dir, EMBEDDED_PG_PORT: String(port), LOG_LEVEL: 'silent', NODE_ENV: 'test' });
  const port = await freePort();
  await catalogueOnePhoto(embedded(dataDir, port), dataDir);
  const before = await ageAndSnapshot(dataDir);
  const { id } = await marker(dataDir);

  await expect(startRuntime(configFor(b, dataDir), { http: false, worker: true })).rejects.toThrow(
    new RegExp(`^DATA_DIR ${dataDir} belongs to catalogue ${id}, but the database at [^ ]+ is not that catalogue .*: point DATABASE_URL at catalogue ${id}'s database \\(unset it for the embedded one\\)`),
  );
  expect(await snapshot(dataDir)).toEqual(before);

  // The other way round: the DATABASE_URL catalogue's folder, opened without DATABASE_URL.
  await catalogueOnePhoto(b, folderOfB);
  const idB = (await marker(folderOfB)).id;
  const beforeB = await ageAndSnapshot(folderOfB);
  await expect(startRuntime(embedded(folderOfB, await freePort()), { http: false, worker: true })).rejects.toThrow(
    new RegExp(`^DATA_DIR ${folderOfB} belongs to catalogue ${idB}, but the embedded database in ${folderOfB}/postgres is not that catalogue`),
  );
  expect(await snapshot(folderOfB)).toEqual(beforeB);

  // The embedded catalogue still opens its own folder, with everything in it.
  await (await startRuntime(embedded(dataDir, port), { http: false, worker: false })).close();
  expect(await snapshot(dataDir)).toEqual(expect.objectContaining(before));
}, 240_000);
