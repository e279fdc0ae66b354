// Builds dist/: tsc emits CommonJS + declarations, then two thin entry points give the
// package its two faces: `require('jetstream')` is the callable server factory of the
// original README, and `import … from 'jetstream'` gets the same object as default plus
// named exports.
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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
const names = Object.keys(createRequire(import.meta.url)(join(dist, 'index.js'))).filter(
  (n) => n !== 'default' && n !== '__esModule',
);
writeFileSync(
  join(dist, 'index.mjs'),
  `import cjs from './index.js';\nexport default cjs.default;\nexport const { ${names.join(', ')} } = cjs;\n`,
);
