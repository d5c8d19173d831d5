import { spawnTracked, stopProcess, writeNginxConfig } from '@rotor/testkit';
import { waitForHttp } from './wait';

export interface LoadBalancer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** nginx (Debian package) as the load balancer in front of the proxy replicas (config: testkit). */
export async function startNginx(upstreamPorts: number[]): Promise<LoadBalancer> {
  const { dir, confFile, port } = await writeNginxConfig(upstreamPorts);
  const child = spawnTracked('nginx', ['-p', dir, '-c', confFile, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopProcess(child, 'SIGQUIT', 3000);
  try {
    await waitForHttp(`${url}/healthz`, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, port, stop };
}
