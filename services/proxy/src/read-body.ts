import type { IncomingMessage } from 'node:http';

/** A body read failed: `type` is what the app's error handler answers by (body-parser's names). */
export class BodyError extends Error {
  constructor(
    readonly type: 'entity.too.large' | 'request.aborted' | 'request.size.invalid',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Reads the whole request body as bytes, at most `limit` of them: kept for retries on another key,
 * forwarded byte for byte (compressed or not), never parsed. No body (neither Content-Length nor
 * Transfer-Encoding) → undefined. A declared length over the limit fails before a byte is read.
 *
 * Written for the request path instead of express.raw: no content-type matching, no per-request
 * parser set-up, one Buffer.concat at the end.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = req.headers['content-length'];
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) return Promise.resolve(undefined);
  const expected = declared === undefined ? undefined : Number(declared);
  if (expected !== undefined && expected > limit) {
    return Promise.reject(new BodyError('entity.too.large', `request body of ${expected} bytes is over the limit of ${limit}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = (error?: BodyError) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('close', onClose);
      if (error) {
        // Not read further: Node discards the rest once the error response is sent.
        req.pause();
        reject(error);
      }
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) return stop(new BodyError('entity.too.large', `request body is over the limit of ${limit} bytes`));
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      if (expected !== undefined && received !== expected) {
        reject(new BodyError('request.size.invalid', `request body of ${received} bytes, ${expected} declared`));
        return;
      }
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    };
    const onClose = () => {
      if (!req.complete) stop(new BodyError('request.aborted', 'the client went away while sending the body'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('close', onClose);
  });
}
