/**
 * The Metrics object on its own (no database): what each recording call shows in a scrape, that
 * scrapes parse strictly, that the queue is read at most once per TTL, that a failing source does
 * not fail the scrape, and that labels from outside stay a bounded set.
 */
import { pino } from 'pino';
import { OTHER } from '../../src/observability/bounded-label.js';
import { MAX_OPERATION_NAMES, Metrics, type QueueDepth } from '../../src/observability/metrics.js';
import { parseExposition, valueOf } from './exposition.js';

const depth: QueueDepth = {
  images: { PENDING: 3, PROCESSING: 1, FAILED: 0 },
  jobs: { segment_image: { waiting: 3, running: 1, retrying: 0, failed: 0 } },
};

function metrics(options: { queueDepthTtlMs?: number } = {}) {
  let reads = 0;
  const made = new Metrics({ logger: pino({ level: 'silent' }), ...options });
  made.modelInUse({ name: 'yolo11n-seg-uint8', version: 'v1' });
  made.watchQueue(async () => {
    reads += 1;
    return depth;
  });
  made.watchFreeSpace(async () => 123_456_789);
  return { metrics: made, reads: () => reads };
}

async function scrape(target: Metrics) {
  const { body, contentType } = await target.scrape();
  expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(body);
}

it('shows the queue, the model, free space and the process in a scrape that parses strictly', async () => {
  const families = await scrape(metrics().metrics);
  expect(valueOf(families, 'segcat_queue_images', { status: 'PENDING' })).toBe(3);
  expect(valueOf(families, 'segcat_queue_images', { status: 'PROCESSING' })).toBe(1);
  expect(valueOf(families, 'segcat_queue_images', { status: 'FAILED' })).toBe(0);
  expect(valueOf(families, 'segcat_queue_jobs', { task: 'segment_image', state: 'waiting' })).toBe(3);
  expect(valueOf(families, 'segcat_model_info', { name: 'yolo11n-seg-uint8', version: 'v1' })).toBe(1);
  expect(valueOf(families, 'segcat_data_dir_free_bytes')).toBe(123_456_789);
  expect(families.get('process_cpu_user_seconds_total')?.type).toBe('counter');
  expect(families.get('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
  for (const family of families.values()) expect(family.help).toBeTruthy();
});

it('reads the queue once per TTL, however many scrapes come meanwhile, concurrent ones included', async () => {
  const { metrics: target, reads } = metrics({ queueDepthTtlMs: 300 });
  await Promise.all([target.scrape(), target.scrape(), target.scrape()]);
  await target.scrape();
  expect(reads()).toBe(1);
  await new Promise((resolve) => setTimeout(resolve, 350));
  await target.scrape();
  expect(reads()).toBe(2);
});

it('still answers when the database cannot be read, counts the failure, and asks again next time', async () => {
  let down = true;
  const target = new Metrics({ logger: pino({ level: 'silent' }) });
  target.watchQueue(async () => {
    if (down) throw new Error('connection refused');
    return depth;
  });
  target.watchFreeSpace(async () => {
    if (down) throw new Error('EIO');
    return 1;
  });
  const first = await scrape(target);
  expect(first.get('segcat_queue_images')!.samples).toEqual([]);
  expect(first.get('segcat_queue_jobs')!.samples).toEqual([]);
  expect(valueOf(first, 'segcat_data_dir_free_bytes')).toBeNaN();
  down = false;
  const second = await scrape(target);
  expect(valueOf(second, 'segcat_metrics_collect_errors_total', { source: 'queue' })).toBe(1);
  expect(valueOf(second, 'segcat_metrics_collect_errors_total', { source: 'disk' })).toBe(1);
  expect(valueOf(second, 'segcat_data_dir_free_bytes')).toBe(1);
  expect(valueOf(second, 'segcat_queue_images', { status: 'PENDING' })).toBe(3);
});

it('shows no model, queue or free space until told where to read them (object storage has no free space)', async () => {
  const families = await scrape(new Metrics({ logger: pino({ level: 'silent' }) }));
  expect(families.get('segcat_model_info')!.samples).toEqual([]);
  expect(families.get('segcat_queue_images')!.samples).toEqual([]);
  expect(families.has('segcat_data_dir_free_bytes')).toBe(false);
});

it('times each segmentation stage, in seconds', async () => {
  const { metrics: target } = metrics();
  target.segmented({ decode: 12, model: 70, post: 8, files: 20, database: 5 });
  target.segmented({ decode: 14, model: 75, post: 9, files: 25, database: 6 });
  const families = await scrape(target);
  for (const stage of ['decode', 'model', 'post', 'files', 'database']) {
    expect(valueOf(families, 'segcat_segmentation_stage_seconds_count', { stage })).toBe(2);
  }
  expect(valueOf(families, 'segcat_segmentation_stage_seconds_sum', { stage: 'model' })).toBeCloseTo(0.145, 6);
  expect(valueOf(families, 'segcat_segmentation_stage_seconds_bucket', { stage: 'model', le: '0.05' })).toBe(0);
  expect(valueOf(families, 'segcat_segmentation_stage_seconds_bucket', { stage: 'model', le: '0.1' })).toBe(2);
});

it('counts jobs by outcome: what the handler returns, or retry / failed when it throws', async () => {
  const { metrics: target } = metrics();
  await target.countJob('segment_image', { lastAttempt: false }, async () => 'done');
  await target.countJob('segment_image', { lastAttempt: false }, async () => 'skipped');
  await target.countJob('segment_image', { lastAttempt: true }, async () => 'failed');
  await target.countJob('segment_image', { lastAttempt: false }, async () => undefined);
  const boom = new Error('boom');
  await expect(target.countJob('segment_image', { lastAttempt: false }, async () => Promise.reject(boom))).rejects.toBe(boom);
  await expect(target.countJob('segment_image', { lastAttempt: true }, async () => Promise.reject(boom))).rejects.toBe(boom);
  const families = await scrape(target);
  const count = (outcome: string) => valueOf(families, 'segcat_jobs_total', { task: 'segment_image', outcome });
  expect([count('done'), count('skipped'), count('failed'), count('retry')]).toEqual([2, 1, 2, 1]);
});

it('labels GraphQL requests by operation name, keeping the set of names bounded', async () => {
  const { metrics: target } = metrics();
  const allowed = { type: 'query', allowed: true };
  target.graphqlRequest({ ...allowed, name: 'Search' }, 0.02);
  target.graphqlRequest({ ...allowed, name: 'Search' }, 0.03);
  target.graphqlRequest({ ...allowed, name: null }, 0.01);
  target.graphqlRequest({ type: undefined, name: undefined, allowed: false }, 0.001);
  target.graphqlRequest({ type: 'mutation', name: 'Upload', allowed: false }, 0.001);
  target.graphqlRequest({ ...allowed, name: 'x'.repeat(65) }, 0.01);
  for (let i = 0; i < MAX_OPERATION_NAMES + 20; i++) target.graphqlRequest({ ...allowed, name: `Op${i}` }, 0.01);
  const families = await scrape(target);
  const count = (operation: string, type = 'query') => valueOf(families, 'segcat_graphql_request_duration_seconds_count', { operation, type });
  expect(count('Search')).toBe(2);
  expect(count('(anonymous)')).toBe(1);
  expect(count('(invalid)', 'none')).toBe(1);
  expect(count('(unauthenticated)', 'mutation')).toBe(1);
  // Search took one slot; the 65-character name and the names past the bound are (other).
  expect(count(OTHER)).toBe(1 + 21);
  const names = new Set(families.get('segcat_graphql_request_duration_seconds')!.samples.map((sample) => sample.labels.operation));
  expect(names.size).toBe(MAX_OPERATION_NAMES + 4);
});

it('counts object-store errors by operation and code, with codes bounded too', async () => {
  const { metrics: target } = metrics();
  target.storageRequestFailed('put', 'SlowDown');
  target.storageRequestFailed('put', 'SlowDown');
  target.storageRequestFailed('get', 'ECONNRESET');
  target.storageRequestFailed('get', 'not a code, with spaces');
  const families = await scrape(target);
  expect(valueOf(families, 'segcat_storage_request_errors_total', { operation: 'put', code: 'SlowDown' })).toBe(2);
  expect(valueOf(families, 'segcat_storage_request_errors_total', { operation: 'get', code: 'ECONNRESET' })).toBe(1);
  expect(valueOf(families, 'segcat_storage_request_errors_total', { operation: 'get', code: OTHER })).toBe(1);
});

it('reports the pools it is given and the upload bytes received', async () => {
  const { metrics: target } = metrics();
  target.watchPool('prisma', () => ({ total: 4, idle: 3, waiting: 0, max: 10 }));
  target.watchPool('queue', () => ({ total: 2, idle: 0, waiting: 1, max: 4 }));
  target.uploadReceived(1000);
  target.uploadReceived(24);
  const families = await scrape(target);
  expect(valueOf(families, 'segcat_db_pool_connections', { pool: 'prisma' })).toBe(4);
  expect(valueOf(families, 'segcat_db_pool_idle_connections', { pool: 'prisma' })).toBe(3);
  expect(valueOf(families, 'segcat_db_pool_waiting_clients', { pool: 'queue' })).toBe(1);
  expect(valueOf(families, 'segcat_db_pool_max_connections', { pool: 'queue' })).toBe(4);
  expect(valueOf(families, 'segcat_upload_bytes_total')).toBe(1024);
});

it('refuses what a Prometheus server would refuse', () => {
  expect(() => parseExposition('segcat_x 1\n')).toThrow(/without a TYPE/);
  expect(() => parseExposition('# TYPE a gauge\na{b="c} 1\n')).toThrow(/bad label/);
  expect(() => parseExposition('# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="1"} 2\n')).toThrow(/not together/);
  expect(() => parseExposition('# TYPE a gauge\na 1\na 2\n')).toThrow(/repeated series/);
  expect(() => parseExposition('# TYPE a gauge\na one\n')).toThrow(/not a number/);
  expect(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n')).toThrow(/cumulative/);
  expect(() => parseExposition('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n')).toThrow(/_count/);
  expect(() => parseExposition('# TYPE a gauge\na 1')).toThrow(/newline/);
});
