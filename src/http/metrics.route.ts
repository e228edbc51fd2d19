/**
 * GET /metrics: this process's metrics in Prometheus's text format, guarded like every read
 * (SEGCAT_READ_KEY as a bearer key, the API key, or a read session). `segcat serve` mounts it
 * beside the API; processes without an HTTP API (`segcat worker --metrics-port`) serve it alone.
 */
import express, { Router, type ErrorRequestHandler, type Request } from 'express';
import type { Logger } from 'pino';
import type { SessionRepository } from '../db/session.repository.js';
import type { Metrics } from '../observability/metrics.js';
import { accessFrom, resolveAccess, type Keys } from './access.js';

/** The /metrics route; `canRead` says whether a request may read. */
export function metricsRouter(metrics: Pick<Metrics, 'scrape'>, canRead: (request: Request) => boolean): Router {
  const router = Router();
  router.get('/', async (request, response, next) => {
    if (!canRead(request)) {
      return void response
        .status(401)
        .set('WWW-Authenticate', 'Bearer')
        .json({ error: 'metrics need a read key: send `Authorization: Bearer <SEGCAT_READ_KEY>`' });
    }
    try {
      const { contentType, body } = await metrics.scrape();
      response.set('Cache-Control', 'no-store').type(contentType).send(body);
    } catch (error) {
      next(error);
    }
  });
  return router;
}

/** What a metrics-only server is built from. */
export interface MetricsAppDeps {
  metrics: Pick<Metrics, 'scrape'>;
  keys: Keys;
  sessions: SessionRepository;
  logger: Logger;
}

/** An HTTP app serving GET /metrics and nothing else (404 for every other path). */
export function createMetricsApp({ metrics, keys, sessions, logger }: MetricsAppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((_request, response, next) => {
    response.set('X-Content-Type-Options', 'nosniff');
    next();
  });
  app.use('/metrics', resolveAccess(keys, sessions), metricsRouter(metrics, (request) => accessFrom(request).read));
  app.use((_request, response) => void response.status(404).json({ error: 'this port serves GET /metrics only' }));
  const failed: ErrorRequestHandler = (error, _request, response, _next) => {
    logger.error({ err: error }, 'metrics request failed');
    if (!response.headersSent) response.status(500).json({ error: 'Internal server error' });
  };
  app.use(failed);
  return app;
}
