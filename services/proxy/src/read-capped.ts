import type { IncomingMessage } from 'node:http';

/**
 * Reads an upstream error body up to `cap` bytes, so the outcome can be classified (quota vs rate
 * limit) before deciding to retry. `complete` is false when the body was larger: the caller then sends
 * what was read and pipes the rest.
 */
export function readCapped(response: IncomingMessage, cap: number): Promise<{ chunks: Buffer[]; complete: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (complete: boolean) => {
      response.off('data', onData);
      response.off('end', onEnd);
      response.off('error', onEnd);
      response.off('aborted', onEnd);
      if (!complete) response.pause();
      resolve({ chunks, complete });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= cap) done(false);
    };
    const onEnd = () => done(true);
    response.on('data', onData);
    response.once('end', onEnd);
    response.once('error', onEnd);
    response.once('aborted', onEnd);
  });
}
