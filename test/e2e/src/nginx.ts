import { spawn, type ChildProcess } from 'node:child_process';
import { writeNginxConfig } from '@rotor/testkit';
import { waitForHttp } from './wait';

export interface LoadBalancer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** nginx (Debian package) as the load balancer in front of the proxy replicas (config: testkit). */
export async function startNginx(upstreamPorts: number[]): Promise<LoadBalancer> {
  const { dir, confFile, port } = await writeNginxConfig(upstreamPorts);
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', confFile, '-g', 'daemon off;'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(`${url}/healthz`, child);
  return {
    url,
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGQUIT');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
