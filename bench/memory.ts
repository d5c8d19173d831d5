/**
 * Memory: resident set size (VmRSS from /proc/<pid>/status) of one `rotor proxy` replica while it
 * relays STREAMS concurrent slow SSE streams (the simulated provider sends CHUNKS chunks, one every
 * CHUNK_DELAY_MS), and after they end; then the same for the bare node:http hop, as the floor of a
 * Node process started the same way (`node --import tsx`, whose loader thread has its own heap).
 *   idle    after a warm-up (a few hundred requests, JSON and streamed), traffic stopped, settled
 *   peak    the highest sample while the streams were open (sampled every 200 ms)
 *   after   sampled every second after the last stream ended, no traffic since, until RSS is back
 *           within 20% of idle or SETTLE_S seconds passed (V8 gives memory back only once the
 *           process has been idle a while: the time it took is printed)
 *
 *   pnpm --filter @rotor/bench memory     (env: STREAMS=1000 CHUNKS=30 CHUNK_DELAY_MS=200 SETTLE_S=60)
 */
import http from 'node:http';
import { CHAT_BODY, STREAM_BODY, loadTest } from './lib/load';
import { BENCH_TOKEN, Group, rssMb, runMain, startBareProxy, startRedis, startRotor, startSim, writeRotorConfig } from './lib/processes';
import { fmt, median, printTable, sleep } from './lib/stats';

export interface MemoryOptions {
  streams: number;
  chunks: number;
  chunkDelayMs: number;
  settleS: number;
}

export interface MemoryFigures {
  /** Streams that ended with `data: [DONE]`. */
  completed: number;
  /** Most streams open at once (response headers received, not yet ended). */
  maxOpen: number;
  streamSeconds: number;
  startedMb: number;
  idleMb: number;
  peakMb: number;
  /** RSS 1 s after the streams ended. */
  endedMb: number;
  /** The last sample: back within 20% of idle, or SETTLE_S after the end. */
  afterMb: number;
  /** after ÷ idle. */
  afterVsIdle: number;
  /** Seconds from the end of the streams to the last sample. */
  afterS: number;
}

export interface MemoryResult {
  streams: number;
  rotor: MemoryFigures;
  /** The same load through the bare node:http hop (also run with `node --import tsx`): the floor. */
  bareHop: MemoryFigures;
}

export function optionsFromEnv(): MemoryOptions {
  return {
    streams: Number(process.env.STREAMS ?? 1000),
    chunks: Number(process.env.CHUNKS ?? 30),
    chunkDelayMs: Number(process.env.CHUNK_DELAY_MS ?? 200),
    settleS: Number(process.env.SETTLE_S ?? 60),
  };
}

/** Median of a few samples a little apart: one sample can land on a GC. */
async function settledRss(pid: number, samples = 5, gapMs = 200): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    values.push(rssMb(pid));
    await sleep(gapMs);
  }
  return median(values);
}

export async function runMemory(options: MemoryOptions): Promise<MemoryResult> {
  const group = new Group();
  try {
    const redis = group.add(await startRedis());
    const sim = group.add(await startSim({ chunks: options.chunks, chunkDelayMs: options.chunkDelayMs }));
    const rotor = group.add(
      await startRotor(writeRotorConfig(redis.url, { mem: { baseUrl: `${sim.url}/v1`, keys: Array.from({ length: 5 }, (_, i) => `sk-mem-${i}`) } })),
    );
    const bare = group.add(await startBareProxy(sim.url));
    const result: MemoryResult = {
      streams: options.streams,
      rotor: await measure(rotor.pid, new URL(`${rotor.url}/mem/chat/completions`), options),
      bareHop: await measure(bare.pid, new URL(`${bare.url}/v1/chat/completions`), options),
    };
    print(result, options);
    return result;
  } finally {
    await group.stop();
  }
}

async function measure(pid: number, url: URL, options: MemoryOptions): Promise<MemoryFigures> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
  try {
    const startedMb = rssMb(pid);
    await loadTest({ url: url.href, token: BENCH_TOKEN, body: CHAT_BODY, connections: 20, amount: 500 });
    await Promise.all(Array.from({ length: 50 }, () => openStream(url, agent)));
    await sleep(2000);
    const idleMb = await settledRss(pid);

    let open = 0;
    let maxOpen = 0;
    let peakMb = idleMb;
    const sampler = setInterval(() => {
      peakMb = Math.max(peakMb, rssMb(pid));
    }, 200);
    const t0 = Date.now();
    const results = await Promise.all(
      Array.from({ length: options.streams }, () =>
        openStream(url, agent, {
          onOpen: () => (maxOpen = Math.max(maxOpen, ++open)),
          onEnd: () => open--,
        }),
      ),
    );
    const streamSeconds = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    peakMb = Math.max(peakMb, rssMb(pid));
    const ended = Date.now();
    await sleep(1000);
    const endedMb = rssMb(pid);
    let afterMb = endedMb;
    while (afterMb > 1.2 * idleMb && Date.now() - ended < options.settleS * 1000) {
      await sleep(1000);
      afterMb = rssMb(pid);
    }
    const afterS = (Date.now() - ended) / 1000;
    return {
      completed: results.filter(Boolean).length,
      maxOpen,
      streamSeconds,
      startedMb,
      idleMb,
      peakMb,
      endedMb,
      afterMb,
      afterVsIdle: afterMb / idleMb,
      afterS,
    };
  } finally {
    agent.destroy();
  }
}

/** One streamed completion; resolves true when it ended with `data: [DONE]`. */
function openStream(url: URL, agent: http.Agent, hooks: { onOpen?: () => void; onEnd?: () => void } = {}): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { authorization: `Bearer ${BENCH_TOKEN}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(STREAM_BODY) },
      },
      (res) => {
        hooks.onOpen?.();
        let tail = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (tail = (tail + chunk).slice(-64)));
        res.on('end', () => {
          hooks.onEnd?.();
          resolve(res.statusCode === 200 && tail.includes('[DONE]'));
        });
        res.on('error', () => {
          hooks.onEnd?.();
          resolve(false);
        });
      },
    );
    req.on('error', () => resolve(false));
    req.end(STREAM_BODY);
  });
}

function print(r: MemoryResult, options: MemoryOptions): void {
  console.log(
    `\nmemory: ${r.streams} concurrent SSE streams of ${options.chunks} chunks every ${options.chunkDelayMs} ms; ` +
      `"after": the first sample within 20% of idle, sampled every second for up to ${options.settleS} s`,
  );
  printTable(
    ['process', 'completed', 'max open', 'seconds', 'RSS start MB', 'idle MB', 'peak MB', '+1 s MB', 'after MB', 'after / idle', 'after s'],
    (
      [
        ['rotor x1', r.rotor],
        ['bare hop', r.bareHop],
      ] as const
    ).map(([name, f]) => [
      name,
      f.completed,
      f.maxOpen,
      fmt(f.streamSeconds, 1),
      fmt(f.startedMb, 1),
      fmt(f.idleMb, 1),
      fmt(f.peakMb, 1),
      fmt(f.endedMb, 1),
      fmt(f.afterMb, 1),
      fmt(f.afterVsIdle, 2),
      fmt(f.afterS, 0),
    ]),
  );
  console.log('targets (rotor): peak ≤ 150 MB, after ≤ 1.20 x idle');
}

if (require.main === module) runMain(() => runMemory(optionsFromEnv()));
