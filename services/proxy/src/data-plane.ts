import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type express from 'express';
import { providers, routeFor, type RouteResult } from '@rotor/core';
import { ClientAuth, clientAuthInForce } from './client-auth';
import { isControlPath } from './control-paths';
import { sendRotorError, sendThrown } from './error-response';
import { BodyError, readBody } from './read-body';
import { relay, type RelayContext } from './relay';

type PoolRoute = Exclude<RouteResult, { kind: 'no_route' }>;

/** The server's request listener. */
export interface DataPlaneListener extends RequestListener {
  /** The Express app it falls through to. */
  readonly controlPlane: express.Express;
  /** The control plane's router, for whoever lists the routes the server serves (admin.test.ts does). */
  readonly router: express.Router;
}

export interface DataPlaneOptions {
  relay: RelayContext;
  /** The control plane (the Express app): everything that is not a pool route. */
  controlPlane: express.Express;
  /** /metrics is served on this port (false when the proxy has a separate metricsPort). */
  serveMetrics: boolean;
}

/**
 * The listener that owns the socket. A pool route goes straight to route match → client token → body
 * read → relay, with no Express on its path (Express's per-request machinery costs more than the
 * whole forward). The admin prefix and the health / metrics paths are matched first, so no pool route
 * shadows them; they, unknown routes and non-path targets go to the control plane.
 */
export function dataPlane(options: DataPlaneOptions): DataPlaneListener {
  const ctx = options.relay;
  const clientAuth = clientAuthInForce(() => ctx.config);

  /** Bad path, then client token, then body size: all answered before any upstream call. */
  const serve = async (req: IncomingMessage, res: ServerResponse, route: PoolRoute) => {
    const provider = providers[route.pool.provider];
    try {
      if (route.kind === 'leaves_route') {
        // Dot segments that climb out of the route: the pool's key never goes below another path.
        const message = `the path leaves the route ${route.prefix} through dot segments`;
        sendRotorError(res, provider, 'bad_path', message);
        return;
      }
      const client = clientAuth().identify(ClientAuth.presented(req.headers));
      if (client === undefined) {
        ctx.metrics.authFailures.inc();
        sendRotorError(res, provider, 'unauthorized', 'missing or invalid Rotor client token');
        return;
      }
      // Read whole before the first attempt: a retry on another key sends the same bytes again.
      const body = await readBody(req, ctx.config.maxBodyBytes);
      await relay(ctx, req, res, {
        pool: route.pool,
        path: route.rest,
        route: route.prefix,
        client,
        ...(body ? { body } : {}),
      });
    } catch (error) {
      if (!(error instanceof BodyError)) {
        sendThrown(res, provider, error, ctx.logger);
      } else if (error.type === 'entity.too.large') {
        const message = `request body over the limit of ${ctx.config.maxBodyBytes} bytes`;
        sendRotorError(res, provider, 'payload_too_large', message);
      } else {
        // Aborted, or shorter than declared: nothing to answer, no one to answer it to.
        res.destroy();
      }
    }
  };

  const listener: RequestListener = (req, res) => {
    const url = req.url ?? '/';
    const route = isControlPath(req.method, url, options.serveMetrics) ? undefined : routeFor(ctx.config, url);
    if (route === undefined || route.kind === 'no_route') {
      options.controlPlane(req, res);
      return;
    }
    // Answering an error can fail too (the socket went): nothing is left to tell the client then.
    serve(req, res, route).catch(() => res.destroy());
  };
  const { controlPlane } = options;
  return Object.defineProperties(listener, {
    controlPlane: { value: controlPlane, enumerable: true },
    router: { get: () => controlPlane.router, enumerable: true },
  }) as DataPlaneListener;
}
