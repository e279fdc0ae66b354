// Bundles the client SDK for browsers with esbuild and reports its size:
//   node scripts/bundle-client.mjs            → dist/browser/jetstream-client.js (ESM, minified)
//   node scripts/bundle-client.mjs --demo     → also demo/public/app.js (the demo page's script)
// `platform: 'browser'` makes esbuild fail on any Node built-in, which is the point: the client
// must run in a browser as is.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const common = {
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  metafile: true,
};

async function bundle(entry, outfile) {
  const result = await build({ ...common, entryPoints: [join(root, entry)], outfile: join(root, outfile) });
  const out = result.outputFiles[0];
  mkdirSync(dirname(out.path), { recursive: true });
  writeFileSync(out.path, out.contents);
  const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
  console.log(
    `${outfile}: ${kb(out.contents.length)} minified, ${kb(gzipSync(out.contents).length)} gzipped`,
  );
  if (process.argv.includes('--analyze')) {
    const inputs = Object.values(result.metafile.outputs)[0].inputs;
    const byPackage = {};
    for (const [file, info] of Object.entries(inputs)) {
      const key = file.includes('node_modules/')
        ? file.split('node_modules/')[1].split('/').slice(0, 2).join('/')
        : file.split('/').slice(0, 2).join('/');
      byPackage[key] = (byPackage[key] ?? 0) + info.bytesInOutput;
    }
    for (const [k, v] of Object.entries(byPackage).sort((a, b) => b[1] - a[1]))
      console.log(`  ${kb(v).padStart(10)}  ${k}`);
  }
}

await bundle('src/client/index.ts', 'dist/browser/jetstream-client.js');
if (process.argv.includes('--demo')) await bundle('demo/public/app.ts', 'demo/public/app.js');
