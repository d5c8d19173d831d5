import net from 'node:net';

export interface RawAnswer {
  /** Status code of the answer, or -1 when the connection closed without one. */
  status: number;
  head: string;
  body: string;
  /** ms until the connection closed (or the answer was complete). */
  ms: number;
}

/**
 * Sends bytes exactly as given (request line, headers, body: nothing normalised, which fetch and
 * node:http would do) and reads the answer until the server closes or `timeoutMs` passes.
 */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 5000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1];
      resolve({ status: status ? Number(status) : -1, head, body: rest.join('\r\n\r\n'), ms: Date.now() - started });
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', done);
    socket.write(request);
  });
}

/** A request with `Connection: close`, so the server closes once it has answered. */
export function httpText(method: string, target: string, headers: Record<string, string>, body = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: rotor.test', 'Connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body || method === 'POST') lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/**
 * Slowloris: opens a connection and sends `request` one byte every `everyMs`; resolves with the ms
 * after which the server closed the connection (or `giveUpMs` if it never did).
 */
export function trickle(port: number, request: string, everyMs: number, giveUpMs: number): Promise<{ closedAfterMs: number; answer: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    let i = 0;
    const timer = setInterval(() => {
      if (i < request.length && !socket.destroyed) socket.write(request[i++]!);
    }, everyMs);
    const giveUp = setTimeout(() => finish(giveUpMs), giveUpMs);
    const finish = (ms: number) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve({ closedAfterMs: ms, answer: answer.split('\r\n')[0] ?? '' });
    };
    socket.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    socket.on('close', () => finish(Date.now() - started));
    socket.on('error', () => undefined);
  });
}
