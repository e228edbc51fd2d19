/**
 * The real S3-compatible server of the storage tests: OpenStack Swift with s3api
 * (scripts/lib/swift-server.mjs), started by each suite that needs it. Where Swift is not
 * installed, the S3 half of those suites is skipped with a message saying how to install it;
 * under CI (CI=true) its absence fails them instead, since `.ci/run` installs it.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { missingSwiftPrograms, startSwiftServer, SWIFT_INSTALL_HINT } from '../../scripts/lib/swift-server.mjs';

/** The backends a storage suite runs on: both when Swift is installed (always under CI), else the filesystem only. */
export function backendsUnderTest(): ('fs' | 's3')[] {
  return s3Available() ? ['fs', 's3'] : ['fs'];
}

/** Whether the S3 tests can run here; throws under CI when they cannot. */
export function s3Available(): boolean {
  const missing = missingSwiftPrograms();
  if (missing.length === 0) return true;
  const reason = `OpenStack Swift is not installed (missing ${missing.join(', ')}), so the S3 backend is not tested: ${SWIFT_INSTALL_HINT}`;
  if (process.env.CI === 'true') throw new Error(`${reason} (.ci/run installs it; under CI its absence is a failure)`);
  console.warn(`skipped: ${reason}`);
  return false;
}

/** A running Swift. */
export interface S3TestServer {
  endpoint: string;
  /** A new empty bucket. */
  createBucket(): Promise<string>;
  /** The environment of a segcat process on `bucket` (STORAGE=s3 and the S3 and AWS settings). */
  env(bucket: string, prefix?: string): Record<string, string>;
  /** A client for looking behind segcat's back. */
  client: S3Client;
  stop(): Promise<void>;
}

/** How long a suite's beforeAll may take to start Swift (a few seconds alone, longer on a busy machine). */
export const SWIFT_START_TIMEOUT_MS = 180_000;

/** Starts Swift; `stop()` ends it. */
export async function startS3TestServer(): Promise<S3TestServer> {
  const swift = await startSwiftServer();
  const credentials = { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey };
  const client = new S3Client({ endpoint: swift.endpoint, region: swift.region, forcePathStyle: true, credentials });
  return {
    endpoint: swift.endpoint,
    client,
    async createBucket() {
      const bucket = `segcat-test-${randomBytes(4).toString('hex')}`;
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      return bucket;
    },
    env: (bucket, prefix = '') => swift.settings(bucket, prefix),
    async stop() {
      client.destroy();
      await swift.stop();
    },
  };
}
