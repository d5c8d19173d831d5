import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port';

export interface NginxSetup {
  /** Pass as `nginx -p <dir> -c <confFile> -g 'daemon off;'`. */
  dir: string;
  confFile: string;
  port: number;
}

/**
 * The load balancer tests and benchmarks put in front of proxy replicas, as in production
 * (infra/nginx/nginx.conf): round robin, keep-alive upstream connections reused for as many requests
 * as a benchmark sends, no buffering so SSE passes through. Everything nginx writes stays in its own
 * temporary directory; it listens on a free loopback port.
 */
export async function writeNginxConfig(upstreamPorts: number[]): Promise<NginxSetup> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rotor-nginx-'));
  fs.chmodSync(dir, 0o777);
  const conf = `
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
${process.getuid?.() === 0 ? 'user root;' : ''}
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  client_max_body_size 0;
  keepalive_requests 1000000;
  upstream rotor { ${upstreamPorts.map((p) => `server 127.0.0.1:${p};`).join(' ')} keepalive 256; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://rotor;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_read_timeout 300s;
    }
  }
}
`;
  const confFile = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confFile, conf);
  return { dir, confFile, port };
}
