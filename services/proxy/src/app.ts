import express, { type NextFunction, type Request, type Response } from 'express';
import { providers } from '@rotor/core';
import { ADMIN_PREFIX, adminRouter } from './admin';
import { HEALTH_PATH, METRICS_PATH, READY_PATH } from './control-paths';
import { sendRotorError, sendThrown } from './error-response';
import type { RelayContext } from './relay';

export interface Readiness {
  status: 'ready' | 'degraded' | 'unavailable';
  detail: string;
}

export interface AppOptions {
  relay: RelayContext;
  readiness: () => Promise<Readiness>;
  /** Serve /metrics here (false when the proxy has a separate metricsPort). */
  serveMetrics: boolean;
}

/**
 * The control plane: the Express app for everything that is not a pool route (the admin API, health,
 * readiness, /metrics, 404s). Pool routes never reach it: the data plane (data-plane.ts) owns the
 * socket and passes it only what control-paths.ts names and what no route takes. Listening, signals
 * and shutdown live in server.ts.
 */
export function buildApp(options: AppOptions): express.Express {
  const ctx = options.relay;
  // Not a pool's request: answered in OpenAI's shape, what the `/v1` default pool's clients read.
  const defaultProvider = providers.openai;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get(HEALTH_PATH, (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get(READY_PATH, async (_req, res) => {
    const ready = await options.readiness();
    res.status(ready.status === 'unavailable' ? 503 : 200).json(ready);
  });
  if (options.serveMetrics) {
    app.get(METRICS_PATH, async (_req, res) => {
      res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
    });
  }
  // Its own token (see admin.ts).
  app.use(ADMIN_PREFIX, adminRouter(ctx));

  app.use((req: Request, res: Response) => {
    sendRotorError(res, defaultProvider, 'not_found', `no route for ${req.method} ${req.path}`);
  });
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    sendThrown(res, defaultProvider, error, ctx.logger);
  });
  return app;
}
