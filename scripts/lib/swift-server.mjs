// A real S3-compatible server for tests and benches: OpenStack Swift with its s3api middleware,
// from Debian's packages (swift-proxy swift-object swift-container swift-account python3-swift
// memcached). Everything it writes is in one temporary folder: one-replica rings on loopback, the
// servers' configurations, their data, and memcached (s3api needs the `cache` middleware). The
// ports are free ones picked at start, so several can run at once.
//
// Only /etc/swift/swift.conf is read from its fixed path (Swift has no setting for it); Debian's
// package installs it.
import { spawn, execFile } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Programs the server needs, all from Debian's packages. */
export const SWIFT_PROGRAMS = ['swift-ring-builder', 'swift-proxy-server', 'swift-account-server', 'swift-container-server', 'swift-object-server', 'memcached'];

/** tempauth's user `test:tester`, an admin of account AUTH_test: the S3 access key and secret. */
export const SWIFT_CREDENTIALS = { accessKeyId: 'test:tester', secretAccessKey: 'testing' };

/** The region s3api signs for (its `location`); clients must use the same. */
export const SWIFT_REGION = 'us-east-1';

/** Longest the servers may take to answer after they are started. */
const START_TIMEOUT_MS = 120_000;

/** The programs of SWIFT_PROGRAMS that are not on PATH (or in /usr/sbin, /usr/bin), with the Debian packages to install. */
export function missingSwiftPrograms() {
  return SWIFT_PROGRAMS.filter((program) => programPath(program) === undefined);
}

/** Where a program is: on PATH, or in /usr/sbin or /usr/bin (memcached is in /usr/bin, but PATH may lack both). */
function programPath(program) {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/bin'];
  return dirs.filter(Boolean).map((dir) => path.join(dir, program)).find((file) => existsSync(file));
}

/** How to install what missingSwiftPrograms() reports. */
export const SWIFT_INSTALL_HINT = 'apt-get install -y swift-proxy swift-object swift-container swift-account python3-swift memcached';

/**
 * Starts memcached and the account, container, object and proxy servers; resolves once the S3 API
 * answers. `stop()` ends them and removes the folder.
 */
export async function startSwiftServer() {
  const missing = missingSwiftPrograms();
  if (missing.length > 0) throw new Error(`OpenStack Swift is not installed (missing ${missing.join(', ')}): ${SWIFT_INSTALL_HINT}`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'segcat-swift-'));
  const children = [];
  // A process that exits without stop() (a test runner's worker torn down) takes the servers with it.
  const killAll = () => children.forEach((child) => child.kill('SIGKILL'));
  process.once('exit', killAll);
  const stop = async () => {
    process.off('exit', killAll);
    await Promise.all(children.map((child) => stopChild(child)));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const [proxyPort, accountPort, containerPort, objectPort, memcachedPort] = await freePorts(5);
    await mkdir(path.join(dir, 'srv', 'd1'), { recursive: true });
    await mkdir(path.join(dir, 'cache'));
    await buildRings(dir, { account: accountPort, container: containerPort, object: objectPort });
    const user = os.userInfo().username;
    const common = { dir, user };
    await writeFile(path.join(dir, 'account-server.conf'), storageServerConf({ ...common, port: accountPort, app: 'account' }));
    await writeFile(path.join(dir, 'container-server.conf'), storageServerConf({ ...common, port: containerPort, app: 'container' }));
    await writeFile(path.join(dir, 'object-server.conf'), storageServerConf({ ...common, port: objectPort, app: 'object' }));
    await writeFile(path.join(dir, 'proxy-server.conf'), proxyServerConf({ ...common, port: proxyPort, memcachedPort }));

    const memcachedArgs = ['-l', '127.0.0.1', '-p', String(memcachedPort), '-U', '0', '-m', '64', ...(process.getuid?.() === 0 ? ['-u', 'root'] : [])];
    children.push(await launch(dir, 'memcached', memcachedArgs));
    for (const server of ['account', 'container', 'object', 'proxy']) {
      // -v: log to the console (the .log file) rather than syslog.
      children.push(await launch(dir, `swift-${server}-server`, [path.join(dir, `${server}-server.conf`), '-v']));
    }
    await waitUntilReady([proxyPort, accountPort, containerPort, objectPort], children, dir);
    const endpoint = `http://127.0.0.1:${proxyPort}`;
    /** segcat's settings for a bucket of this server (S3_PREFIX only when `prefix` is given). */
    const settings = (bucket, prefix) => ({
      STORAGE: 's3',
      S3_ENDPOINT: endpoint,
      S3_BUCKET: bucket,
      S3_REGION: SWIFT_REGION,
      ...(prefix === undefined ? {} : { S3_PREFIX: prefix }),
      S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: SWIFT_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: SWIFT_CREDENTIALS.secretAccessKey,
    });
    return { endpoint, region: SWIFT_REGION, ...SWIFT_CREDENTIALS, dir, settings, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * One-replica rings, one device each on 127.0.0.1: what `swift-ring-builder <ring>.builder create 8
 * 1 1`, `add r1z1-127.0.0.1:<port>/d1 1` and `rebalance` make, done by the same RingBuilder in one
 * Python process (nine runs of swift-ring-builder take half a minute on a busy machine), with the
 * interpreter swift-ring-builder itself names.
 */
async function buildRings(dir, ports) {
  const interpreter = (await readFile(programPath('swift-ring-builder'), 'utf8')).split('\n', 1)[0].replace(/^#!\s*/, '').trim();
  const script = `
import json, os, sys
from swift.common.ring import RingBuilder
for name, port in json.loads(sys.argv[2]).items():
    builder = RingBuilder(8, 1, 1)
    builder.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port, 'device': 'd1', 'weight': 1})
    builder.rebalance()
    builder.save(os.path.join(sys.argv[1], name + '.builder'))
    builder.get_ring().save(os.path.join(sys.argv[1], name + '.ring.gz'))
`;
  const [command, ...args] = interpreter.split(/\s+/);
  await run(command, [...args, '-c', script, dir, JSON.stringify(ports)]);
}

function storageServerConf({ dir, user, port, app }) {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
user = ${user}
swift_dir = ${dir}
devices = ${path.join(dir, 'srv')}
mount_check = false
log_name = swift-${app}
log_level = WARNING
recon_cache_path = ${path.join(dir, 'cache')}

[pipeline:main]
pipeline = healthcheck ${app}-server

[app:${app}-server]
use = egg:swift#${app}

[filter:healthcheck]
use = egg:swift#healthcheck
`;
}

function proxyServerConf({ dir, user, port, memcachedPort }) {
  // s3api answers "Memcache required" without `cache`, and needs `slo` for multipart uploads.
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
user = ${user}
swift_dir = ${dir}
log_name = swift-proxy
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth bulk copy slo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:s3api]
use = egg:swift#s3api
location = ${SWIFT_REGION}

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = ${SWIFT_CREDENTIALS.secretAccessKey} .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${memcachedPort}

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo
`;
}

/** Starts a program with its output in `<dir>/<program>.log`; rejects if it cannot be started. */
async function launch(dir, program, args) {
  const log = openSync(path.join(dir, `${program}.log`), 'a');
  // EVENTLET_NO_GREENDNS: no dnspython import (a second off every start); everything is on 127.0.0.1.
  const child = spawn(programPath(program) ?? program, args, { cwd: dir, stdio: ['ignore', log, log], env: { ...process.env, EVENTLET_NO_GREENDNS: 'yes' } });
  child.logFile = path.join(dir, `${program}.log`);
  await new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return child;
}

/** Waits until every server answers its /healthcheck. */
async function waitUntilReady(ports, children, dir) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const waiting = new Set(ports);
  for (;;) {
    const exited = children.find((child) => child.exitCode !== null || child.signalCode !== null);
    if (exited) throw new Error(`${path.basename(exited.spawnfile)} exited at start: ${await tail(exited.logFile)}`);
    for (const port of waiting) {
      const healthy = await fetch(`http://127.0.0.1:${port}/healthcheck`).then((response) => response.ok, () => false);
      if (healthy) waiting.delete(port);
    }
    if (waiting.size === 0) return;
    if (Date.now() > deadline) {
      const logs = await Promise.all(children.map(async (child) => `${path.basename(child.spawnfile)}: ${await tail(child.logFile)}`));
      throw new Error(`Swift did not answer on ports ${[...waiting].join(', ')} within ${START_TIMEOUT_MS / 1000} s (in ${dir}):\n${logs.join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function tail(file) {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-15).join('\n') || '(no output)';
}

/** Stops a child: SIGTERM, then SIGKILL if it lingers. */
async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** `count` distinct ports nothing listens on right now. */
async function freePorts(count) {
  const servers = [];
  try {
    for (let index = 0; index < count; index++) {
      const server = net.createServer();
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
      servers.push(server);
    }
    return servers.map((server) => server.address().port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}
