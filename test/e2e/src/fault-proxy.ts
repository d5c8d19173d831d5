import net from 'node:net';
import { freePort } from '@rotor/testkit';

export interface FaultProxy {
  port: number;
  /** redis://127.0.0.1:<port> */
  url: string;
  /** Delay every chunk in both directions by this many ms (0 = none). */
  setLatency(ms: number): void;
  /** Hold every byte (both directions) until unblocked: a peer that stopped answering. */
  setBlocked(blocked: boolean): void;
  /** Drop every open connection now (new ones are still accepted). */
  cut(): void;
  /** Chunks and bytes sent client -> server since start (what reached the server, or will). */
  readonly sent: { chunks: number; bytes: number };
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * A small TCP proxy for fault tests: sits between the proxies and Redis (or anything on TCP) and
 * adds latency, stalls or cuts connections on demand. Loopback only. Chunks keep their order.
 */
export async function startFaultProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
  const port = await freePort();
  let latencyMs = 0;
  let blocked = false;
  const sent = { chunks: 0, bytes: 0 };
  const sockets = new Set<net.Socket>();
  const unblockWaiters: (() => void)[] = [];
  let open = 0;

  const relay = (from: net.Socket, to: net.Socket, countSent: boolean) => {
    // One chain per direction keeps chunks in order whatever the latency does.
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const due = Date.now() + latencyMs;
      chain = chain.then(async () => {
        while (blocked) await new Promise<void>((r) => unblockWaiters.push(r));
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (to.destroyed) return;
        if (countSent) {
          sent.chunks += 1;
          sent.bytes += chunk.length;
        }
        to.write(chunk);
      });
    });
  };

  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    open += 1;
    sockets.add(client);
    sockets.add(upstream);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('close', () => {
      open -= 1;
      sockets.delete(client);
      close();
    });
    upstream.once('close', () => {
      sockets.delete(upstream);
      close();
    });
    client.on('error', close);
    upstream.on('error', close);
    relay(client, upstream, true);
    relay(upstream, client, false);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    setLatency: (ms) => {
      latencyMs = ms;
    },
    setBlocked: (value) => {
      blocked = value;
      if (!value) for (const wake of unblockWaiters.splice(0)) wake();
    },
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
    sent,
    get connections() {
      return open;
    },
    close: async () => {
      blocked = false;
      for (const wake of unblockWaiters.splice(0)) wake();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
