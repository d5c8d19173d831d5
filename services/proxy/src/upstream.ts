import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { createProxyMiddleware, type Plugin, type RequestHandler } from 'http-proxy-middleware';

export type AttemptResult =
  | { kind: 'response'; response: IncomingMessage }
  | { kind: 'failure'; failure: 'timeout' | 'connection_error'; code: string; refused: boolean }
  /** http-proxy-middleware passed the request on instead of sending it: nothing left Rotor. */
  | { kind: 'not_forwarded'; reason: string };

export interface AttemptRequest {
  /** Path and query to append to the pool's base URL. */
  path: string;
  headers: IncomingHttpHeaders;
  body?: Buffer;
  /** No response headers within this long: the attempt is a timeout. */
  headersTimeoutMs: number;
}

/** Per-attempt callbacks, found from the request object that http-proxy hands to its events. */
interface AttemptHooks {
  proxyReq(proxyReq: ClientRequest): void;
  response(response: IncomingMessage): void;
  error(error: NodeJS.ErrnoException): void;
}
const hooks = new WeakMap<IncomingMessage, AttemptHooks>();

/** Errors that prove nothing reached the provider: always safe to retry on another key. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * One pool's upstream: an http-proxy-middleware instance with a keep-alive agent. The target comes
 * only from config; redirects are never followed (the relay returns them without their Location);
 * the response is handled by the relay (selfHandleResponse), so it can be classified before anything
 * reaches the client.
 */
export class Upstream {
  private readonly middleware: RequestHandler;
  readonly agent: http.Agent;

  constructor(baseUrl: string) {
    const target = new URL(baseUrl);
    // maxSockets stays unbounded: a queued socket would let the body be ended before proxyReq fires.
    this.agent =
      target.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, scheduling: 'lifo' })
        : new http.Agent({ keepAlive: true, scheduling: 'lifo' });
    const attemptEvents: Plugin = (proxyServer) => {
      proxyServer.on('proxyReq', (proxyReq, req) => hooks.get(req)?.proxyReq(proxyReq));
      proxyServer.on('proxyRes', (proxyRes, req) => hooks.get(req)?.response(proxyRes));
      proxyServer.on('error', (error, req) => hooks.get(req as IncomingMessage)?.error(error));
      proxyServer.on('econnreset', (error, req) => hooks.get(req)?.error(error));
    };
    this.middleware = createProxyMiddleware({
      target: baseUrl,
      changeOrigin: true,
      selfHandleResponse: true,
      followRedirects: false,
      xfwd: false,
      agent: this.agent,
      ejectPlugins: true,
      plugins: [attemptEvents],
    });
  }

  /**
   * Sends one attempt. Resolves with the response once its headers arrive (the body is left unread),
   * or with the failure. `onProxyReq` gives the caller the outgoing request so it can abort it.
   */
  attempt(
    req: IncomingMessage,
    res: ServerResponse,
    request: AttemptRequest,
    onProxyReq: (proxyReq: ClientRequest) => void,
  ): Promise<AttemptResult> {
    return new Promise((resolve) => {
      let settled = false;
      let timedOut = false;
      let proxyReq: ClientRequest | undefined;
      const settle = (result: AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        hooks.delete(req);
        resolve(result);
      };
      const timer = setTimeout(() => {
        timedOut = true;
        proxyReq?.destroy();
        settle({ kind: 'failure', failure: 'timeout', code: 'ETIMEDOUT', refused: false });
      }, request.headersTimeoutMs);

      hooks.set(req, {
        proxyReq: (outgoing) => {
          proxyReq = outgoing;
          onProxyReq(outgoing);
          // The body was read (and kept for retries) before the first attempt: write it here, as
          // http-proxy's own pipe from the consumed request only ends the upstream request.
          if (request.body && request.body.length > 0) outgoing.write(request.body);
        },
        response: (response) => settle({ kind: 'response', response }),
        error: (error) => {
          const code = error.code ?? 'EUNKNOWN';
          if (timedOut) return;
          settle({ kind: 'failure', failure: 'connection_error', code, refused: NOT_SENT.has(code) });
        },
      });
      // http-proxy builds the upstream request from req.url and req.headers.
      req.url = request.path;
      req.headers = request.headers;
      void this.middleware(req, res, (error?: unknown) => {
        // Not the provider's answer and not the key's fault: the caller releases the lease.
        const reason = error instanceof Error ? error.message : 'passed on by the proxy middleware';
        settle({ kind: 'not_forwarded', reason });
      });
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
