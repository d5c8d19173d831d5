import http from 'node:http';
import https from 'node:https';
import type { ProbeRequest } from './probe-request';

const BODY_CAP = 16 * 1024;

export type ProbeResponse =
  | { status: number; headers: http.IncomingHttpHeaders; body: string }
  | { failure: 'timeout' | 'connection_error'; code: string };

/**
 * Sends one probe with node:http(s): no redirect is ever followed (a 3xx is just an answer, and the
 * key never goes to another host), no connection is reused, and the whole exchange (connect, headers,
 * the first 16 KB of body) has one deadline. Headers in time are an answer even if the body is not.
 */
export function sendProbe(request: ProbeRequest, timeoutMs: number): Promise<ProbeResponse> {
  const transport = request.url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    // Set once headers arrive: a deadline hit while the body trickles in still has a status to judge.
    let answered: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const settle = (result: ProbeResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result);
    };
    const req = transport.request(
      request.url,
      { method: request.method, headers: request.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () =>
          settle({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          });
        res.on('data', (chunk: Buffer) => {
          if (size < BODY_CAP) chunks.push(chunk.subarray(0, BODY_CAP - size));
          size += chunk.length;
          if (size >= BODY_CAP) done();
        });
        answered = done;
        res.on('end', done);
        res.on('error', done);
      },
    );
    timer = setTimeout(
      () => (answered ? answered() : settle({ failure: 'timeout', code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      settle({ failure: 'connection_error', code: error.code ?? 'ERROR' }),
    );
    req.end(request.body);
  });
}
