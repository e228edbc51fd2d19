/**
 * The HTTP surface: /graphql (Apollo + multipart uploads), /files, /overlays, /health, /metrics and the web
 * gallery at /.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express, { type ErrorRequestHandler, type NextFunction, type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import { PACKAGE_ROOT, type Config } from '../config.js';
import type { SessionRepository } from '../db/session.repository.js';
import { createUrlBuilder, responseClosedSignal, type GraphQLContext } from '../graphql/context.js';
import { codeOf, describeRequestError, RequestRefusedError } from '../graphql/errors.js';
import { MAX_JSON_BODY, MAX_MULTIPART_FIELD_BYTES } from '../graphql/limits.js';
import { createLoaders } from '../graphql/loaders.js';
import type { Metrics } from '../observability/metrics.js';
import type { Services } from '../services/services.js';
import { accessFrom, resolveAccess, sessionRouter } from './access.js';
import { fileCacheControl, filesRouter, sendStoredFile } from './files.route.js';
import { metricsRouter } from './metrics.route.js';
import { multipartUploads } from './multipart.js';
import { requestOrigin, trustProxySetting } from './origin.js';
import { RateLimiter } from './rate-limit.js';
import { createUploadBudget } from './upload-budget.js';

/** The state of one part the service depends on. */
export interface HealthResult {
  ok: boolean;
  detail?: string;
  /**
   * What this part failing means: `down` (the default) answers 503; `degraded` answers 200 with
   * status "degraded", for trouble that leaves the service up (reads work) but needs an operator.
   */
  severity?: 'down' | 'degraded';
}

/**
 * Reports whether the parts the service depends on work; `deep` (GET /health?deep=1) adds checks
 * too slow for every probe, such as a sample of stored files.
 */
export type HealthCheck = (options: { deep: boolean }) => Promise<Record<string, HealthResult>>;

/** Everything the HTTP app is built from. */
export interface AppDeps {
  config: Config;
  services: Services;
  apollo: ApolloServer<GraphQLContext>;
  /** Browser sessions from POST /session. */
  sessions: SessionRepository;
  logger: Logger;
  health: HealthCheck;
  /** This process's metrics: served at /metrics, fed with upload bytes. */
  metrics: Metrics;
}

/** Builds the express app (the Apollo server must already be started). */
export function createHttpApp({ config, services, apollo, sessions, logger, health, metrics }: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustProxySetting(config.trustProxy));
  // Every answer, errors included: no browser may guess a type segcat did not state.
  app.use((_request, response, next) => {
    response.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.use(
    pinoHttp({
      logger,
      customLogLevel: (_request, response, error) => (error || response.statusCode >= 500 ? 'error' : 'info'),
      serializers: { req: (request) => ({ method: request.method, url: request.url }), res: (response) => ({ statusCode: response.statusCode }) },
    }),
  );
  const keys = { apiKey: config.apiKey, readKey: config.readKey };
  const baseUrl = (request: Request) => config.publicUrl ?? requestOrigin(request);

  app.get('/health', async (request, response) => {
    const checks = await health({ deep: request.query.deep === '1' });
    const failing = Object.values(checks).filter((check) => !check.ok);
    const down = failing.some((check) => check.severity !== 'degraded');
    const shown = Object.fromEntries(Object.entries(checks).map(([name, { severity: _, ...check }]) => [name, check]));
    response.status(down ? 503 : 200).json({ status: down ? 'unavailable' : failing.length > 0 ? 'degraded' : 'ok', checks: shown });
  });

  const limiter = new RateLimiter({ burst: config.sessionRateLimitBurst, refillMs: config.sessionRateLimitRefillMs });
  app.use('/session', sessionRouter({ keys, sessions, limiter }));
  // Only the guarded routes pay for a session lookup; /health and the gallery's assets do not.
  app.use(['/files', '/overlays', '/graphql', '/metrics'], resolveAccess(keys, sessions));
  app.use('/metrics', metricsRouter(metrics, (request) => accessFrom(request).read));
  app.use(
    '/files',
    filesRouter(services.files, (request) => accessFrom(request).read, config.readKey !== undefined),
  );

  app.get('/overlays/:file', async (request, response, next) => {
    if (!accessFrom(request).read) return void response.status(401).json({ error: 'a read key is needed' });
    const id = /^([0-9a-f-]{36})\.jpg$/i.exec(request.params.file)?.[1];
    if (!id) return void response.status(404).json({ error: 'no such overlay' });
    try {
      const file = await services.files.overlay(id.toLowerCase());
      response.set('Cache-Control', fileCacheControl('derived', config.readKey !== undefined));
      await sendStoredFile(request, response, file);
    } catch (error) {
      const code = codeOf(error);
      if (code === 'NOT_FOUND' || code === 'BAD_USER_INPUT') {
        return void response.status(404).json({ error: (error as Error).message });
      }
      next(error);
    }
  });

  app.use(
    '/graphql',
    (request: Request, _response: Response, next: NextFunction) =>
      next(
        baseUrl(request)
          ? undefined
          : new RequestRefusedError(400, 'BAD_USER_INPUT', 'the Host or X-Forwarded-Proto header is malformed; set PUBLIC_URL when serving behind a proxy'),
      ),
    express.json({ limit: MAX_JSON_BODY }),
    multipartUploads({
      spoolDir: services.files.spoolDir(),
      // The ingest service enforces MAX_UPLOAD_BYTES itself, with a clear GraphQL error; this outer
      // bound only stops a stream that nobody reads.
      maxFileBytes: config.maxUploadBytes + 1,
      maxFiles: config.maxFilesPerRequest,
      maxFieldBytes: MAX_MULTIPART_FIELD_BYTES,
      budget: createUploadBudget(config.maxConcurrentUploadBytes),
      canWrite: (request) => accessFrom(request).write,
      onFileBytes: (bytes) => metrics.uploadReceived(bytes),
    }),
    expressMiddleware(apollo, {
      context: async ({ req, res }): Promise<GraphQLContext> => ({
        services,
        loaders: createLoaders(services.catalogue),
        urls: createUrlBuilder(baseUrl(req)!, (relativePath) => services.files.presignedUrl(relativePath)),
        access: accessFrom(req),
        signal: responseClosedSignal(res),
      }),
    }),
  );

  const gallery = path.join(PACKAGE_ROOT, 'web', 'dist');
  if (existsSync(gallery)) app.use(express.static(gallery, { index: 'index.html', maxAge: '5m' }));

  app.use(graphqlErrorHandler(logger));
  return app;
}

/**
 * Errors raised outside GraphQL (body and multipart parsing, the database going away) answered in
 * GraphQL's shape, with the same codes; anything else is logged and masked.
 */
function graphqlErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error, _request, response, _next) => {
    const described = describeRequestError(error) ?? {
      status: 500,
      code: 'INTERNAL_SERVER_ERROR',
      message: 'Internal server error',
    };
    if (described.status >= 500) logger.error({ err: error }, 'request failed');
    if (response.headersSent) return;
    response.status(described.status).json({ errors: [{ message: described.message, extensions: { code: described.code } }] });
  };
}
