import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { anthropicApi } from './anthropic-api';
import { ModelGroups } from './buckets';
import { isRecord, replyPieces } from './content';
import { type Dialect, isReply, type Reply } from './dialect';
import { DEFAULT_LIMITS, KeyRegistry } from './keys';
import { type WindowSnapshot, WindowLimiter } from './limits';
import { openaiApi } from './openai-api';
import { openaiResponsesApi } from './openai-responses';
import { isGone, sendEvents, untilClosed, waitUnlessClosed, writeSseHead } from './sse';
import type { AbortedEntry, RequestLogEntry, SimOptions, SimProvider } from './types';

/** Bodies above this are refused with 413, so a runaway test cannot exhaust memory. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;

/**
 * Which API a request speaks. The generation paths decide on their own; the shared or unknown ones
 * (`GET /v1/models`, 404s) go by Anthropic's headers, because both APIs list models at the same path.
 */
function pickDialect(path: string, headers: IncomingHttpHeaders): Dialect {
  if (path === '/v1/messages' || path.startsWith('/v1/messages/')) return anthropicApi;
  if (path === '/v1/chat/completions') return openaiApi;
  if (path === '/v1/responses') return openaiResponsesApi;
  if (headers['x-api-key'] !== undefined || headers['anthropic-version'] !== undefined) return anthropicApi;
  return openaiApi;
}

type Body = { ok: true; text: string } | { ok: false; tooLarge: boolean };

function readBody(req: IncomingMessage): Promise<Body> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (body: Body) => {
      if (settled) return;
      settled = true;
      resolve(body);
    };
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        settle({ ok: false, tooLarge: true });
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => settle({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
    req.on('error', () => settle({ ok: false, tooLarge: false }));
    req.on('close', () => settle({ ok: false, tooLarge: false }));
  });
}

function pushCapped<T>(list: T[], entry: T, cap: number): void {
  list.push(entry);
  // Trim in batches: one splice per `cap` pushes keeps appends O(1) amortised.
  if (list.length > cap * 2) list.splice(0, list.length - cap);
}

function sendJson(res: ServerResponse, reply: Reply, headers: Record<string, string>): void {
  if (isGone(res)) return;
  const body = JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    ...headers,
    ...reply.headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

export async function startSimProvider(options: SimOptions = {}): Promise<SimProvider> {
  const windowMs = options.windowMs ?? 60_000;
  const baseLatencyMs = options.latencyMs ?? 0;
  const jitterMs = options.latencyJitterMs ?? 0;
  const latency = () => (jitterMs > 0 ? baseLatencyMs + Math.random() * jitterMs : baseLatencyMs);
  const chunks = options.stream?.chunks ?? 5;
  const chunkDelayMs = options.stream?.chunkDelayMs ?? 0;
  const maxLog = options.maxLogEntries ?? 10_000;
  const forbiddenModels = new Set(options.forbiddenModels ?? []);

  const registry = new KeyRegistry(
    options.keys ?? {},
    options.orgs ?? {},
    options.defaultLimits ?? DEFAULT_LIMITS,
    new ModelGroups(options.modelGroups ?? {}),
    options.acceptAnyKey ?? false,
  );
  const limiter = new WindowLimiter(windowMs);
  const requestLog: RequestLogEntry[] = [];
  const aborted: AbortedEntry[] = [];
  let closing = false;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const dialect = pickDialect(path, req.headers);
    const secret = dialect.extractKey(req.headers);
    const requestId = dialect.newRequestId();

    pushCapped(requestLog, { secret, method, path, headers: { ...req.headers }, at: Date.now() }, maxLog);
    // 'close' before the response finished = the client (or a proxy acting for it) went away.
    res.once('close', () => {
      if (!res.writableFinished && !closing) pushCapped(aborted, { secret, path, at: Date.now() }, maxLog);
    });

    // Set once the key is known: from then on every answer names the key's organization.
    let identity: Record<string, string> | undefined;
    const send = (reply: Reply, window?: WindowSnapshot) =>
      sendJson(res, reply, {
        [dialect.requestIdHeader]: requestId,
        ...identity,
        ...(window ? dialect.rateLimitHeaders(window, Date.now()) : {}),
      });

    const body = await readBody(req);
    if (!body.ok) {
      if (body.tooLarge) send({ ...dialect.badRequest('Request body too large.'), status: 413 });
      return;
    }

    const route = dialect.route(method, path);
    if (route === 'unknown') return send(dialect.notFound(method, path));
    // Authentication comes before anything per-key: 401s carry no rate-limit headers, like the real APIs.
    if (!secret) {
      registry.countUnauthenticated();
      return send(dialect.missingKey());
    }
    const key = registry.resolve(secret);
    if (!key) {
      registry.countUnauthenticated();
      return send(dialect.invalidKey(secret));
    }
    // A revoked key is answered like an unknown one: nothing names its organization.
    if (key.mode !== 'invalid') identity = dialect.organizationHeaders(key.organization, key.project);
    const headerProblem = dialect.checkHeaders(req.headers);
    if (headerProblem) return send(headerProblem);

    const stats = registry.count(secret);
    const probe = route === 'models';
    stats.calls += 1;
    if (probe) stats.probes += 1;

    // Parsed before the key's mode is applied so that even error answers describe the bucket of the
    // model the request named, as OpenAI's headers do.
    let parsed: unknown;
    let unparsable = false;
    if (route === 'generate') {
      try {
        parsed = JSON.parse(body.text);
      } catch {
        unparsable = true;
      }
    }
    const bucket = key.buckets.forModel(isRecord(parsed) && typeof parsed.model === 'string' ? parsed.model : undefined);
    const window = () => limiter.snapshot(bucket, Date.now());

    switch (key.mode) {
      case 'invalid':
        if (!probe) stats.invalid += 1;
        return send(dialect.invalidKey(secret));
      case 'server_error':
        if (!probe) stats.serverErrors += 1;
        return send(dialect.serverError(), window());
      case 'hang':
        return untilClosed(res);
      case 'quota':
        // Listing models is free, so it still works for a key without credit.
        if (!probe) {
          stats.quota += 1;
          return send(dialect.quota(), window());
        }
        break;
      default:
        break;
    }
    const stall = key.mode === 'hang_mid_stream';

    if (route === 'admin') return send(dialect.adminOnly(), window());
    if (probe) {
      if (!(await waitUnlessClosed(res, latency()))) return;
      const models = dialect.models();
      const headers = { [dialect.requestIdHeader]: requestId, ...identity, ...dialect.rateLimitHeaders(window(), Date.now()) };
      return stall ? sendHalfAndStall(res, models, headers) : sendJson(res, models, headers);
    }

    if (unparsable) return send(dialect.badRequest('We could not parse the JSON body of your request.'), window());
    const request = dialect.parseGenerate(parsed);
    if (isReply(request)) return send(request, window());
    if (forbiddenModels.has(request.model)) return send(dialect.forbiddenModel(request.model), window());

    // Counted when the request arrives, prompt plus the output it may produce, as the real APIs do.
    const admission = limiter.admit(bucket, request.promptTokens + request.maxTokens, Date.now());
    if (!admission.admitted) {
      stats.rateLimited += 1;
      const reply = dialect.rateLimited({
        dimension: admission.dimension,
        limit: admission.limit,
        used: admission.used,
        requested: admission.requested,
        retryAfterMs: admission.snapshot.resetAt - Date.now(),
        model: request.model,
        organization: key.organization,
      });
      return send(reply, admission.snapshot);
    }
    stats.ok += 1;

    if (!(await waitUnlessClosed(res, latency()))) return;
    const pieces = replyPieces(chunks);
    const completion = { pieces, promptTokens: request.promptTokens, completionTokens: pieces.length };
    // The window as it stood right after this request was admitted; the reset counts down to now.
    const headers = {
      [dialect.requestIdHeader]: requestId,
      ...identity,
      ...dialect.rateLimitHeaders(admission.snapshot, Date.now()),
    };

    if (request.stream) {
      writeSseHead(res, 200, headers);
      const events = dialect.streamEvents(request, completion);
      if (stall) {
        await sendEvents(res, events.slice(0, 1), 0);
        return untilClosed(res);
      }
      if (await sendEvents(res, events, chunkDelayMs)) res.end();
      return;
    }
    const reply = { status: 200, body: dialect.completion(request, completion) };
    return stall ? sendHalfAndStall(res, reply, headers) : sendJson(res, reply, headers);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A bug in the simulator must show up loudly in the test that hit it, not as a hang.
      console.error('sim-provider: unhandled error', err);
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('sim-provider internal error');
      } else {
        res.destroy();
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stats: (secret) => registry.stats(secret),
    totals: () => registry.totals(),
    windowEndsAt: (secret, model) => limiter.windowEndsAt(registry.bucketsOf(secret).forModel(model), Date.now()),
    consume: (secret, n, model) => limiter.consume(registry.bucketsOf(secret).forModel(model), n, Date.now()),
    setMode: (secret, mode) => registry.setMode(secret, mode),
    setLimits: (secret, limits, model) => registry.setLimits(secret, limits, model),
    organization: (secret) => {
      const key = registry.resolve(secret);
      return key && { ...key.organization };
    },
    bucket: (secret, model) => {
      const key = registry.resolve(secret);
      return key && limiter.stats(key.buckets.forModel(model), Date.now());
    },
    buckets: () => limiter.all(Date.now()),
    requestLog,
    aborted,
    reset() {
      registry.resetCounters();
      limiter.reset();
      // Emptied in place: callers may hold a reference to these arrays.
      requestLog.length = 0;
      aborted.length = 0;
    },
    close() {
      closing = true;
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Hung requests and idle keep-alive sockets would otherwise hold close() open forever.
        server.closeAllConnections();
      });
    },
  };
}

/** 200 with the full content-length announced but only half the body sent: a stall mid-response. */
async function sendHalfAndStall(res: ServerResponse, reply: Reply, headers: Record<string, string>): Promise<void> {
  if (isGone(res)) return;
  const body = Buffer.from(JSON.stringify(reply.body));
  res.writeHead(reply.status, { ...headers, 'content-type': 'application/json', 'content-length': String(body.length) });
  res.write(body.subarray(0, Math.floor(body.length / 2)));
  await untilClosed(res);
}
