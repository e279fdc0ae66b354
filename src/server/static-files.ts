// Static files for the server option `static` (docs/server.md, "Serving a page"): a small app's
// page and scripts served on the same port as the sync endpoint, so that a tutorial-sized app
// needs no second server. It is deliberately minimal (no ranges, no compression, no caching
// beyond revalidation): put a real web server or a CDN in front of anything larger.
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';

/** Answers one plain HTTP request (a WebSocket upgrade never reaches it). */
export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.wasm': 'application/wasm',
  '.woff2': 'font/woff2',
};

/**
 * The path segments of a request's URL path, or null when the path must not be served: not
 * decodable, a NUL byte, a `..` segment, a hidden (dot) file or folder, or a backslash (a
 * separator on Windows). Checked after percent-decoding, so `%2e%2e` is a `..` too.
 */
export function safeSegments(url: string | undefined): string[] | null {
  const path = (url ?? '/').split(/[?#]/, 1)[0]!;
  if (!path.startsWith('/')) return null;
  const segments: string[] = [];
  for (const raw of path.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment === '') continue;
    if (segment.startsWith('.') || segment.includes('\0') || segment.includes('\\') || segment.includes('/'))
      return null;
    segments.push(segment);
  }
  return segments;
}

/**
 * A request handler serving the files under `dir` (resolved against the working directory) to
 * GET and HEAD: `/` and every folder answer their `index.html`; a missing file, a hidden one and
 * any path that would leave `dir` (`..`, encoded or not, or a symbolic link pointing outside)
 * answer 404; other methods 405. Throws a TypeError at once when `dir` is not a directory.
 */
export function staticFiles(dir: string): RequestHandler {
  const root = resolve(dir);
  // Symbolic links are followed only to files that stay under the root's real path.
  const realRoot = realDirectory(root);
  if (realRoot === null) throw new TypeError(`Server option static: ${root} is not a directory`);

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('Method not allowed\n');
      return;
    }
    const segments = safeSegments(req.url);
    if (segments === null) return notFound(res);
    locate(join(root, ...segments), realRoot).then(
      (file) => (file === null ? notFound(res) : send(req, res, file)),
      () => notFound(res),
    );
  };
}

function realDirectory(path: string): string | null {
  try {
    return statSync(path).isDirectory() ? realpathSync(path) : null;
  } catch {
    return null;
  }
}

/** The file to serve for `path` (a folder's index.html), or null; never one outside the root. */
async function locate(path: string, rootPath: string): Promise<{ path: string; size: number } | null> {
  let real = await realpath(path);
  let info = await stat(real);
  if (info.isDirectory()) {
    real = await realpath(join(real, 'index.html'));
    info = await stat(real);
  }
  if (!info.isFile()) return null;
  if (real !== rootPath && !real.startsWith(rootPath + sep)) return null;
  return { path: real, size: info.size };
}

function send(req: IncomingMessage, res: ServerResponse, file: { path: string; size: number }): void {
  res.writeHead(200, {
    'content-type': TYPES[extname(file.path).toLowerCase()] ?? 'application/octet-stream',
    'content-length': file.size,
    // Always revalidate: during development the files change under a running server.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(file.path);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('Not found\n');
}
