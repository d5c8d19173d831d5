import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Outcome, Provider } from '@rotor/core';
import type { Lease } from '@rotor/redis-store';
import { clientResponseHeaders } from './header-hygiene';
import { scrubHeaders } from './scrub';
import { StreamScrubber } from './stream-scrubber';

export interface StreamOptions {
  lease: Lease;
  outcome: Outcome;
  attempts: number;
  provider: Provider;
  /** A stream that sends nothing for this long is cut (the key is marked for a timeout). */
  idleMs: number;
  /** Bytes already read from the response (a large error body), sent first. */
  prefix?: Buffer;
  /** The key the response was served with: removed from its headers and body if the provider echoes it. */
  secret: string;
  /** Pass the provider's organization / project headers on (the pool's `exposeAccountHeaders`). */
  exposeAccountHeaders: boolean;
  /** Called once with the final outcome when the response is over, however it ended. */
  onDone(outcome: Outcome): void;
}

/**
 * Commits the response: status and headers now, then the body piped with backpressure (the provider is
 * read only as fast as the client reads, so a slow client costs socket buffers, not process memory).
 * The key the response was served with never reaches the client, in headers or body (StreamScrubber).
 *
 * Once a byte has reached the client there is no retry. If the provider then stalls (`idleMs`) or
 * breaks the connection, an event stream gets a final provider-shaped `event: error` (the OpenAI and
 * Anthropic SDKs raise it as an API error) and is ended; any other body is cut, so the client sees a
 * truncated response rather than a complete-looking one. An error the provider itself sends in the
 * stream passes through untouched.
 */
export function streamToClient(response: IncomingMessage, res: ServerResponse, options: StreamOptions): void {
  const { lease, outcome, provider, idleMs } = options;
  res.writeHead(response.statusCode ?? 502, {
    ...clientResponseHeaders(scrubHeaders(response.headers, [options.secret]), options.exposeAccountHeaders),
    'x-rotor-key-id': lease.keyId,
    'x-rotor-attempts': String(options.attempts),
  });
  if (options.prefix) res.write(options.prefix);
  const eventStream = /^text\/event-stream/i.test(String(response.headers['content-type'] ?? ''));
  let tail = options.prefix ? options.prefix.subarray(-4) : Buffer.alloc(0);
  let cut: 'idle' | 'broken' | 'client_stalled' | undefined;
  let clientLeft = false;
  let piping = true;
  // Paused because the client does not read what it was sent (backpressure), not because the
  // provider is silent: a stall then is the client's, never the key's.
  let heldByClient = false;
  const scrubber = new StreamScrubber(options.secret);
  // Re-armed by refresh() on every chunk: one timer per response, not one per chunk.
  const idle = setTimeout(() => {
    cut = heldByClient ? 'client_stalled' : 'idle';
    response.destroy();
  }, idleMs);
  // A pipe of our own (not response.pipe): every chunk passes the scrubber; backpressure as pipe's.
  response.on('data', (chunk: Buffer) => {
    idle.refresh();
    tail = chunk.length >= 4 ? chunk.subarray(-4) : Buffer.concat([tail, chunk]).subarray(-4);
    if (!piping) return;
    const out = scrubber.push(chunk);
    if (out.length > 0 && !res.write(out)) {
      heldByClient = true;
      response.pause();
    }
  });
  res.on('drain', () => {
    heldByClient = false;
    idle.refresh();
    response.resume();
  });
  // A connection reset mid-body surfaces as an error on the response: handled in `done`.
  response.on('error', () => {});

  let reported = false;
  const done = () => {
    if (reported) return;
    reported = true;
    clearTimeout(idle);
    let final = outcome;
    piping = false;
    if (cut === 'client_stalled') {
      // The provider answered; the client stopped reading for idleMs: cut it, blame no key.
      res.destroy();
    } else if (!response.complete && !clientLeft && !res.writableFinished) {
      cut ??= 'broken';
      final = { ...outcome, kind: cut === 'idle' ? 'timeout' : 'connection_error' };
      if (eventStream) {
        res.write(scrubber.end());
        res.end(errorEvent(provider, cut, idleMs, tail));
      } else res.destroy();
    }
    options.onDone(final);
  };
  response.once('end', () => {
    if (piping && !clientLeft) res.end(scrubber.end());
    done();
  });
  response.once('close', done);
  res.once('close', () => {
    if (res.writableFinished) return;
    clientLeft = true;
    if (!response.complete) response.destroy();
  });
  response.resume();
}

function errorEvent(provider: Provider, cut: 'idle' | 'broken' | 'client_stalled', idleMs: number, tail: Buffer): string {
  const body =
    cut === 'idle'
      ? provider.errorBody(504, `the provider's stream sent nothing for ${idleMs} ms; Rotor closed it`, 'timeout_error')
      : provider.errorBody(502, 'the connection to the provider broke in the middle of the response; Rotor closed the stream', 'api_error');
  // End an event the provider left half-written first, so ours is read as an event of its own.
  const text = tail.toString('latin1');
  const atBoundary = text.length === 0 || text.endsWith('\n\n') || text.endsWith('\r\n\r\n') || text.endsWith('\r\r');
  return `${atBoundary ? '' : '\n\n'}event: error\ndata: ${JSON.stringify(body)}\n\n`;
}
