/**
 * `segcat serve` and `segcat worker`: long-running processes that stop cleanly on SIGINT/SIGTERM.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { loadConfig } from '../config.js';
import type { RuntimeOptions } from '../runtime.js';

/** Starts a runtime and keeps it up until a signal arrives; resolves when it has shut down. */
async function runUntilSignal(options: RuntimeOptions): Promise<void> {
  const config = loadConfig();
  // Listen before starting: a signal that arrives during start-up still shuts down in order.
  let onSignal: (signal: NodeJS.Signals) => void = () => undefined;
  const signalled = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    // Loaded on demand so that `segcat segment` and friends start without the server's modules.
    const { startRuntime } = await import('../runtime.js');
    const runtime = await startRuntime(config, options);
    if (runtime.url) console.error(`segcat is serving on ${runtime.url} (GraphQL at ${runtime.url}/graphql)`);
    if (runtime.metricsUrl) console.error(`segcat metrics at ${runtime.metricsUrl}`);
    const signal = await signalled;
    runtime.logger.info({ signal }, 'shutting down');
    await runtime.close();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `--metrics-port`: a second listener serving GET /metrics alone; METRICS_PORT when not given. */
function metricsPortOption(): Option {
  return new Option('--metrics-port <port>', 'also serve GET /metrics alone on this port (default: METRICS_PORT; none when unset)').argParser((value) => {
    const port = Number(value);
    if (!/^\d+$/.test(value) || port > 65535) throw new InvalidArgumentError(`expected a port number from 0 to 65535, got ${JSON.stringify(value)}`);
    return port;
  });
}

/** Adds `serve` and `worker` to the program. */
export function registerServeCommands(program: Command): void {
  program
    .command('serve')
    .description('serve the GraphQL API, stored files and the web gallery (and run a queue worker)')
    .option('--no-worker', 'do not segment in this process; leave the queue to `segcat worker` processes')
    .addOption(metricsPortOption())
    .addHelpText('after', `
Environment: PORT (4000), DATABASE_URL (default: an embedded PostgreSQL under DATA_DIR),
DATA_DIR (./data), SEGCAT_MODEL, SEGCAT_API_KEY, PUBLIC_URL, ... (see README).

Examples:
  npx segcat serve
  PORT=8080 DATABASE_URL=postgresql://segcat@db/segcat npx segcat serve --no-worker`)
    .action(async (options: { worker: boolean; metricsPort?: number }) => {
      const config = loadConfig();
      await runUntilSignal({ http: true, worker: options.worker && config.embeddedWorker, metricsPort: options.metricsPort ?? config.metricsPort });
    });

  program
    .command('worker')
    .description('segment queued images; run as many as you like, on any machine sharing the database')
    .addOption(metricsPortOption())
    .addHelpText('after', `
Examples:
  DATABASE_URL=postgresql://segcat@db/segcat npx segcat worker
  SEGCAT_WORKER_CONCURRENCY=4 npx segcat worker
  npx segcat worker --metrics-port 9464     # Prometheus scrapes http://<host>:9464/metrics`)
    .action(async (options: { metricsPort?: number }) => {
      await runUntilSignal({ http: false, worker: true, modelFirst: true, metricsPort: options.metricsPort ?? loadConfig().metricsPort });
    });
}
