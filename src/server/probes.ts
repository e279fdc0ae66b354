// Health probes and metrics over HTTP (docs/operations.md), for any Node HTTP server that also
// carries the sync endpoint: the demo and `jetstream serve` put them on their one port.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from './server.js';

/**
 * Answers `GET /healthz` (200 while the process runs) and `GET /readyz` (200 when `server` should
 * get traffic, else 503; see Server.readiness), both with JSON bodies, and `GET /metrics` (the
 * Prometheus text) when the server keeps metrics. `server` may be null while it starts (then
 * /readyz answers 503). Returns true when it handled the request.
 */
export function handleProbe(req: IncomingMessage, res: ServerResponse, server: Server | null): boolean {
  const path = (req.url ?? '').split('?')[0];
  if (path === '/metrics' && server?.metrics) {
    void server.metrics.text().then(
      ({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(body);
      },
      (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`metrics failed: ${err.message}\n`);
      },
    );
    return true;
  }
  if (path !== '/healthz' && path !== '/readyz') return false;
  const answer = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
    res.end(JSON.stringify(body));
  };
  if (path === '/healthz') {
    answer(200, { status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
  } else if (server === null) {
    answer(503, { ready: false, checks: { server: 'starting' } });
  } else {
    void server.readiness().then(
      (r) => answer(r.ready ? 200 : 503, r),
      (err: Error) => answer(503, { ready: false, error: err.message }),
    );
  }
  return true;
}
