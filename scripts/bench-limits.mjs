#!/usr/bin/env node
// npm run bench:limits — what hostile GraphQL documents cost the server before it answers.
//
// Each document is sent over HTTP, without a key, to a server that has SEGCAT_API_KEY set; the
// table shows the answer, the server process's CPU time for the request (process.cpuUsage, the
// server runs in this process), and how long /health took when asked at the same moment.
// Uses a scratch database (scripts/lib/bench-utils.mjs). Run `npm run build` first.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getIntrospectionQuery } from 'graphql';
import { ROOT, scratchDatabase } from './lib/bench-utils.mjs';

const { loadConfig } = await import(path.join(ROOT, 'dist/config.js'));
const { startRuntime } = await import(path.join(ROOT, 'dist/runtime.js'));

const doublingFragments = (count) =>
  `{ ...F0 } ${Array.from({ length: count }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`).join(' ')} fragment F${count} on Query { __typename }`;
const aliases = (count, field) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: ${field}`).join(' ')} }`;
const extractions = (count) =>
  `mutation { ${Array.from({ length: count }, (_, i) => `x${i}: extractSegments(input: { imageId: "00000000-0000-0000-0000-000000000000" }) { extractions { id } }`).join(' ')} }`;

const documents = [
  ['introspection (Apollo Sandbox)', getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true })],
  ['40 doubling fragments (GET)', doublingFragments(40), 'GET'],
  ['9000 aliases of images(first:1)', aliases(9000, 'images(first: 1) { totalCount }')],
  ['900 aliases of images(first:1)', aliases(900, 'images(first: 1) { totalCount }')],
  ['2000 aliased extractSegments', extractions(2000)],
];

const database = await scratchDatabase('segcat_bench_limits');
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'segcat-bench-'));
const runtime = await startRuntime(
  loadConfig({ DATABASE_URL: database.url, DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', SEGCAT_API_KEY: 'bench-key' }),
  { http: true, worker: false },
);

function send(query, method) {
  if (method === 'GET') return fetch(`${runtime.url}/graphql?query=${encodeURIComponent(query)}`, { headers: { 'apollo-require-preflight': 'true' } });
  return fetch(`${runtime.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
}

console.log('| document | bytes | answer | server CPU | /health meanwhile |');
console.log('|---|---:|---|---:|---:|');
try {
  for (const [name, query, method] of documents) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    const health = fetch(`${runtime.url}/health`).then(() => performance.now() - started);
    const response = await send(query, method);
    const body = await response.json();
    const used = process.cpuUsage(cpu);
    const answer = body.errors ? `${response.status} ${body.errors[0].extensions?.code}: ${body.errors[0].message.slice(0, 60)}` : `${response.status} data`;
    console.log(`| ${name} | ${query.length} | ${answer} | ${((used.user + used.system) / 1000).toFixed(0)} ms | ${(await health).toFixed(0)} ms |`);
  }
} finally {
  await runtime.close();
  await database.drop();
  await rm(dataDir, { recursive: true, force: true });
}
