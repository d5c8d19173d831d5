import type { ServerResponse } from 'node:http';
import type { SseEvent } from './dialect';

/**
 * Transport helpers that stop as soon as the client is gone, so an aborted request never leaves a
 * timer or a write loop behind, and that honour backpressure so a slow reader (or a proxy that
 * forwards with backpressure) sees the same pacing as from a real provider.
 */

/** True once the connection is closed: nothing more can be sent. */
export function isGone(res: ServerResponse): boolean {
  return res.destroyed || res.writableEnded || res.socket === null;
}

/** Waits `ms`, returning early (false) if the client goes away meanwhile. */
export function waitUnlessClosed(res: ServerResponse, ms: number): Promise<boolean> {
  if (isGone(res)) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(true);
    }, ms);
    res.once('close', onClose);
  });
}

/** Resolves when the connection closes: the "hang" modes park here until the client or close() gives up. */
export function untilClosed(res: ServerResponse): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  return new Promise((resolve) => res.once('close', () => resolve()));
}

/** Writes a chunk; if the socket buffer is full, waits for 'drain' (true) or the client leaving (false). */
export function writeWithBackpressure(res: ServerResponse, chunk: string): Promise<boolean> {
  if (isGone(res)) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onDrain = () => {
      res.off('close', onClose);
      resolve(true);
    };
    const onClose = () => {
      res.off('drain', onDrain);
      resolve(false);
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

export function encodeSse(event: SseEvent): string {
  return `${event.event ? `event: ${event.event}\n` : ''}data: ${event.data}\n\n`;
}

export function writeSseHead(res: ServerResponse, status: number, headers: Record<string, string>): void {
  res.writeHead(status, {
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  // Headers go out now, not with the first chunk, so a client sees "200, streaming" before any delay.
  res.flushHeaders();
}

/** Sends events paced by `delayMs`; false if the client left before the end. Does not end the response. */
export async function sendEvents(res: ServerResponse, events: SseEvent[], delayMs: number): Promise<boolean> {
  for (let i = 0; i < events.length; i += 1) {
    const event = events[i];
    if (!event) continue;
    if (i > 0 && delayMs > 0 && !(await waitUnlessClosed(res, delayMs))) return false;
    if (!(await writeWithBackpressure(res, encodeSse(event)))) return false;
  }
  return true;
}
