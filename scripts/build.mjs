// Builds dist/: tsc emits CommonJS + declarations, then two thin entry points give the
// package its two faces: `require('jetstream')` is the callable server factory of the
// original README, and `import … from 'jetstream'` gets the same object as default plus
// named exports. Both faces, and `jetstream/client`, load the same CommonJS modules, so a
// models file written against `jetstream/client` defines the very classes the server uses.
//
// Then the demo (`npm start`): demo/build/, so that starting it needs neither tsx nor esbuild.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true });
execFileSync(
  process.execPath,
  [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
  {
    stdio: 'inherit',
  },
);

writeFileSync(join(dist, 'main.cjs'), "'use strict';\nmodule.exports = require('./index.js').default;\n");
// Its declarations: `require('jetstream')` is the callable (the default export of index.d.ts),
// not the module object index.d.ts describes for imports.
writeFileSync(
  join(dist, 'main.d.cts'),
  "declare const jetstream: typeof import('./index.js').default;\nexport = jetstream;\n",
);
const names = Object.keys(createRequire(import.meta.url)(join(dist, 'index.js'))).filter(
  (n) => n !== 'default' && n !== '__esModule',
);
writeFileSync(
  join(dist, 'index.mjs'),
  `import cjs from './index.js';\nexport default cjs.default;\nexport const { ${names.join(', ')} } = cjs;\n`,
);

// The demo server: demo/*.ts bundled into one CommonJS file, whose imports of the package's
// sources (`../src/…`) become requires of the same modules in dist/ (workers included: a store
// starts its worker from dist/store/), and whose npm imports stay requires of node_modules.
const demoSrc = join(root, 'demo');
const demoOut = join(demoSrc, 'build');
const src = join(root, 'src');
rmSync(demoOut, { recursive: true, force: true });
const fromDist = {
  name: 'package-from-dist',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      if (!target.startsWith(src + sep)) return undefined;
      const built = join(dist, relative(src, target));
      if (!existsSync(built))
        return { errors: [{ text: `${args.path}: ${relative(root, built)} was not built` }] };
      return { path: relative(demoOut, built).split(sep).join('/'), external: true };
    });
  },
};
await build({
  entryPoints: [join(demoSrc, 'server.ts')],
  outfile: join(demoOut, 'server.js'),
  bundle: true,
  packages: 'external',
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  plugins: [fromDist],
  logLevel: 'warning',
  // `require.main === module`: the bundle is the CommonJS module that `node` runs.
  logOverride: { 'commonjs-variable-in-esm': 'silent' },
});

// The demo page: its static files, and app.ts bundled for browsers (demo/public/serve.ts serves
// them from here when it runs compiled).
cpSync(join(demoSrc, 'public'), join(demoOut, 'public'), {
  recursive: true,
  // Not its sources, nor an app.js left by `node scripts/bundle-client.mjs --demo`.
  filter: (file) => !file.endsWith('.ts') && basename(file) !== 'app.js',
});
await build({
  entryPoints: [join(demoSrc, 'public', 'app.ts')],
  outfile: join(demoOut, 'public', 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  logLevel: 'warning',
});
