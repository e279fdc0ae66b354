// Serves the demo page from the demo server's HTTP handler: index.html, style.css, and app.js.
// Two ways to run: from the sources (tsx, the tests), this file is demo/public/serve.ts and
// esbuild bundles app.js from app.ts in memory on first request (nothing is written to disk); in
// the compiled demo that `npm start` runs (demo/build/server.js, scripts/build.mjs), the page and
// its prebuilt app.js are in demo/build/public/, and no devDependency is needed.
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';

const compiled = extname(__filename) !== '.ts';
const dir = compiled ? join(__dirname, 'public') : __dirname;
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

let bundle: Promise<string> | null = null;

/** The page's script: app.ts and everything it imports, for browsers, no Node built-ins. */
export function bundleApp(): Promise<string> {
  if (compiled) bundle ??= readFile(join(dir, 'app.js'), 'utf8');
  bundle ??= import('esbuild')
    .then((esbuild) =>
      esbuild.build({
        entryPoints: [join(dir, 'app.ts')],
        bundle: true,
        write: false,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        minify: true,
        logLevel: 'silent',
      }),
    )
    .then((r) => r.outputFiles[0]!.text);
  bundle.catch(() => {
    bundle = null;
  });
  return bundle;
}

/** Answers requests for the page; returns false for any other path. */
export function servePage(req: IncomingMessage, res: ServerResponse): boolean {
  const path = (req.url ?? '/').split('?')[0]!;
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const send = (status: number, type: string, body: string | Buffer) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache' });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
  if (path === '/app.js') {
    bundleApp().then(
      (js) => send(200, 'text/javascript; charset=utf-8', js),
      (err: Error) => send(500, 'text/plain; charset=utf-8', `Could not bundle the page: ${err.message}\n`),
    );
    return true;
  }
  const entry = STATIC[path];
  if (!entry) return false;
  readFile(join(dir, entry.file)).then(
    (body) => send(200, entry.type, body),
    () => send(404, 'text/plain; charset=utf-8', 'Not found\n'),
  );
  return true;
}
