/**
 * Runs README.md's examples, read out of the README itself, against a live server and the real
 * CLI, in the order a newcomer pastes them: the curl uploads and searches, every GraphQL
 * operation, the JavaScript and Python clients, import, segment, extract, resegment, models and
 * thumbnails. Output the README shows must be what they print (see readme-blocks.ts for the
 * conventions). `README_TEST_SHOW=1` prints every example's output, for writing the README.
 *
 * Not run: `npm install`, `npm start` and `npm test` lines (this test runs inside `npm test`, and
 * CI runs the other two on a fresh clone), and blocks the README marks `readme-test: not run`.
 * The Python example needs Python 3 with `requests`; without it the example is skipped with a
 * note, except under CI=true, where it must run.
 */
import { execFile, spawnSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import sharp from 'sharp';
import { PACKAGE_ROOT } from '../../src/config.js';
import { IMAGES_DIR, photo, startTestServer, type TestServer } from '../support/server.js';
import { matchesShown, readmeBlocks, RUNNABLE, shellCommands, type ReadmeBlock } from './readme-blocks.js';

const run = promisify(execFile);
const README = path.join(PACKAGE_ROOT, 'README.md');
const SHOW = process.env.README_TEST_SHOW === '1';

let server: TestServer;
let work: string;
let throwawayId: string;

beforeAll(async () => {
  server = await startTestServer();
  work = await mkdtemp(path.join(os.tmpdir(), 'segcat-readme-'));
  // What the examples name: photos in the working folder, a photos/ folder, ~/Pictures.
  for (const name of ['dog.jpg', 'eagle.jpg', 'horses.jpg']) await copyFile(path.join(IMAGES_DIR, name), path.join(work, name));
  await copyFile(path.join(IMAGES_DIR, 'person.jpg'), path.join(work, 'a.jpg'));
  await sharp(path.join(IMAGES_DIR, 'giraffe.jpg')).png().toFile(path.join(work, 'b.png'));
  for (const folder of ['photos', 'Pictures']) {
    await mkdir(path.join(work, folder));
    for (const name of ['giraffe.jpg', 'kite.jpg', 'person.jpg']) await copyFile(path.join(IMAGES_DIR, name), path.join(work, folder, name));
  }
  const scream = await server.upload('mutation($f: Upload!) { uploadImage(input: { file: $f }) { image { id } } }', [
    { variable: 'f', name: 'scream.jpg', data: await photo('scream.jpg') },
  ]);
  throwawayId = scream.data.uploadImage.image.id;
});

afterAll(async () => {
  await server?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const blocks = readmeBlocks(README).filter((block) => RUNNABLE.has(block.lang));

it('finds the examples the README is known to have', () => {
  const langs = blocks.map((block) => block.lang);
  for (const lang of RUNNABLE) expect(langs).toContain(lang);
  expect(blocks.filter((block) => block.output).length).toBeGreaterThanOrEqual(5);
});

describe.each(blocks.map((block) => [`${block.lang} example at README.md:${block.line}`, block] as const))('%s', (_name, block) => {
  const test = block.notRun ? it.skip : it;
  test('runs, and prints what the README shows', async () => {
    const output = await runBlock(block);
    if (SHOW) console.log(`README.md:${block.line} (${block.lang}) printed:\n${output}`);
    if (block.output) {
      const { ok, pattern } = matchesShown(localise(block.output.code), output);
      if (!ok) throw new Error(`README.md:${block.output.line} shows output that the example did not print.\nprinted:\n${output}\nexpected (whitespace ignored, … = anything):\n${pattern}`);
    }
  });
});

async function runBlock(block: ReadmeBlock): Promise<string> {
  switch (block.lang) {
    case 'sh':
      return runShell(block.code);
    case 'graphql':
      return runGraphQL(block.code);
    case 'js':
      return runJavaScript(block.code);
    default:
      return runPython(block.code);
  }
}

/** Runs each command in bash; resolves to the last one's stdout. Every command must exit 0. */
async function runShell(code: string): Promise<string> {
  let last = '';
  for (const command of shellCommands(code)) {
    if (/^(\w+=\S+\s+)*npm\s/.test(command)) continue;
    const line = localise(command)
      .replaceAll('npx segcat', `node ${path.join(PACKAGE_ROOT, 'bin', 'segcat.js')}`)
      .replaceAll('<image-id>', String(await variableValue('imageId')));
    const env = {
      ...process.env,
      HOME: work,
      DATABASE_URL: server.runtime.config.databaseUrl,
      DATA_DIR: server.dataDir,
      LOG_LEVEL: 'warn',
      FORCE_COLOR: '0',
    };
    try {
      const { stdout } = await run('bash', ['-c', line], { cwd: work, env, maxBuffer: 64 * 1024 * 1024 });
      last = stdout;
    } catch (error) {
      const { stdout, stderr, code: exit } = error as { stdout?: string; stderr?: string; code?: number };
      throw new Error(`\`${command}\` exited ${exit}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    }
  }
  return last;
}

/** Runs every operation of a GraphQL block (mutations that delete last); resolves to their results. */
async function runGraphQL(code: string): Promise<string> {
  const operations = parse(code).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const deletes = operations.filter((op) => op.selectionSet.selections.some((s) => s.kind === Kind.FIELD && s.name.value === 'deleteImage'));
  const results: string[] = [];
  for (const operation of [...operations.filter((op) => !deletes.includes(op)), ...deletes]) {
    const variables: Record<string, unknown> = {};
    for (const definition of operation.variableDefinitions ?? []) variables[definition.variable.name.value] = await variableValue(definition.variable.name.value);
    const answer = await postOperation(code, operation.name?.value, variables);
    if (answer.errors) throw new Error(`operation ${operation.name?.value} failed: ${JSON.stringify(answer.errors)}`);
    results.push(JSON.stringify(answer.data));
  }
  return results.join('\n');
}

async function postOperation(query: string, operationName: string | undefined, variables: Record<string, unknown>) {
  const response = await fetch(`${server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, operationName, variables }),
  });
  return (await response.json()) as { data?: unknown; errors?: unknown[] };
}

/** What the README's operations get for their variables: the bird image, a photo to delete, the first page. */
async function variableValue(name: string): Promise<unknown> {
  if (name === 'after') return null;
  if (name === 'id') return throwawayId;
  if (name === 'imageId') {
    const birds = await postOperation('{ images(filter: { labels: ["bird"] }, first: 1) { edges { node { id } } } }', undefined, {});
    return (birds.data as { images: { edges: { node: { id: string } }[] } }).images.edges[0]?.node.id;
  }
  throw new Error(`a README operation uses $${name}; tell readme.test.ts what to pass for it`);
}

/** Runs a JavaScript example as an ES module that resolves the project's packages. */
async function runJavaScript(code: string): Promise<string> {
  const dir = path.join(PACKAGE_ROOT, 'node_modules', '.cache', 'segcat-readme');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `example-${process.pid}.mjs`);
  await writeFile(file, localise(code));
  try {
    const { stdout } = await run(process.execPath, [file], { cwd: work });
    return stdout;
  } finally {
    await rm(file, { force: true });
  }
}

/** Runs a Python example with a Python 3 that has `requests`. */
async function runPython(code: string): Promise<string> {
  const python = ['python3', '/usr/bin/python3'].find((candidate) => spawnSync(candidate, ['-c', 'import requests']).status === 0);
  if (!python) {
    if (process.env.CI === 'true') throw new Error('no Python 3 with requests: .ci/run installs python3-requests');
    console.warn('README Python example skipped: no Python 3 with the requests package here');
    return '';
  }
  const child = execFile(python, ['-'], { cwd: work });
  child.stdin!.end(localise(code));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk) => (stdout += chunk));
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exit = await new Promise((resolve) => child.on('exit', resolve));
  if (exit !== 0) throw new Error(`the Python example exited ${exit}: ${stderr}`);
  return stdout;
}

/** The README speaks of localhost:4000; this run has its own server. */
function localise(text: string): string {
  return text.replaceAll('http://localhost:4000', server.url);
}
