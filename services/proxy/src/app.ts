import express, { type NextFunction, type Request, type Response } from 'express';
import { isRotorError, providers, routeFor, type RouteMatch } from '@rotor/core';
import { ADMIN_PREFIX, adminRouter } from './admin';
import { ClientAuth } from './client-auth';
import { sendRotorError } from './error-response';
import { readBody } from './read-body';
import { relay, type RelayContext } from './relay';

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

/** The proxy's Express app. Listening, signals and shutdown live in server.ts. */
export function buildApp(options: AppOptions): express.Express {
  const ctx = options.relay;
  // A reload swaps ctx.config: routes, tokens and limits are read from it per request.
  let auth = new ClientAuth(ctx.config.clientTokens, ctx.config.keyIdSecret);
  let authTokens = ctx.config.clientTokens;
  const clientAuth = () => {
    if (authTokens !== ctx.config.clientTokens) {
      auth = new ClientAuth(ctx.config.clientTokens, ctx.config.keyIdSecret);
      authTokens = ctx.config.clientTokens;
    }
    return auth;
  };
  const defaultProvider = providers.openai;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const ready = await options.readiness();
    res.status(ready.status === 'unavailable' ? 503 : 200).json(ready);
  });
  if (options.serveMetrics) {
    app.get('/metrics', async (_req, res) => {
      res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
    });
  }

  // Before the pool routes, so no route prefix can shadow it; its own token (see admin.ts).
  app.use(ADMIN_PREFIX, adminRouter(ctx));

  // Unknown route, then client token, then body size: all answered before any upstream call.
  app.use((req: Request, res: Response, next: NextFunction) => {
    const match = routeFor(ctx.config, req.originalUrl);
    if (match.kind === 'no_route') {
      sendRotorError(res, defaultProvider, 'not_found', `no route for ${req.method} ${req.path}`);
      return;
    }
    if (match.kind === 'leaves_route') {
      // Dot segments that climb out of the route: the pool's key never goes below another path.
      const message = `the path leaves the route ${match.prefix} through dot segments`;
      sendRotorError(res, providers[match.pool.provider], 'bad_path', message);
      return;
    }
    res.locals.match = match;
    const client = clientAuth().identify(ClientAuth.presented(req.headers));
    if (client === undefined) {
      ctx.metrics.authFailures.inc();
      sendRotorError(res, providers[match.pool.provider], 'unauthorized', 'missing or invalid Rotor client token');
      return;
    }
    res.locals.client = client;
    next();
  });
  app.use(async (req: Request, res: Response, next: NextFunction) => {
    const match = res.locals.match as RouteMatch;
    let body: Buffer | undefined;
    try {
      // Read whole before the first attempt: a retry on another key sends the same bytes again.
      body = await readBody(req, ctx.config.maxBodyBytes);
    } catch (error) {
      next(error);
      return;
    }
    await relay(ctx, req, res, {
      pool: match.pool,
      path: match.rest,
      route: match.prefix,
      client: res.locals.client as string,
      ...(body ? { body } : {}),
    });
  });

  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const match = res.locals.match as RouteMatch | undefined;
    const provider = match ? providers[match.pool.provider] : defaultProvider;
    const type = (error as { type?: string }).type;
    if (type === 'entity.too.large') {
      sendRotorError(res, provider, 'payload_too_large', `request body over the limit of ${ctx.config.maxBodyBytes} bytes`);
      return;
    }
    if (type === 'request.aborted' || type === 'request.size.invalid') {
      res.destroy();
      return;
    }
    if (isRotorError(error) && error.operational) {
      // e.g. an admin key action while Redis is unreachable: 503 with its own message.
      sendRotorError(res, provider, error.code, error.message, error.retryAfterMs);
      return;
    }
    ctx.logger.error({ err: error instanceof Error ? error.message : String(error) }, 'request failed');
    sendRotorError(res, provider, 'internal', 'internal error in Rotor');
  });
  return app;
}

