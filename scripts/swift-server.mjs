// Runs a local S3-compatible server for trying STORAGE=s3 by hand: OpenStack Swift with s3api
// (scripts/lib/swift-server.mjs, from Debian's packages), on free ports, with its data in a
// temporary folder that is removed when it stops. Creates the bucket named on the command line
// (default `segcat`), prints the settings segcat needs, and runs until Ctrl-C or SIGTERM.
//
//   node scripts/swift-server.mjs [bucket]
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startSwiftServer } from './lib/swift-server.mjs';

const bucket = process.argv[2] ?? 'segcat';
const swift = await startSwiftServer();
const client = new S3Client({
  endpoint: swift.endpoint,
  region: swift.region,
  forcePathStyle: true,
  credentials: { accessKeyId: swift.accessKeyId, secretAccessKey: swift.secretAccessKey },
});
try {
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
} catch (error) {
  await swift.stop();
  throw error;
} finally {
  client.destroy();
}
const settings = swift.settings(bucket);
process.stdout.write(`${Object.entries(settings).map(([name, value]) => `export ${name}=${value}`).join('\n')}\n`);
process.stderr.write(`Swift is serving bucket ${bucket} at ${swift.endpoint} (data in ${swift.dir}); Ctrl-C stops it and removes the data\n`);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await swift.stop();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
