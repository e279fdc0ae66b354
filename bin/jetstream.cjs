#!/usr/bin/env node
'use strict';
// The `jetstream` command: the compiled CLI (src/cli/main.ts).
require('../dist/cli/main.js').run();
