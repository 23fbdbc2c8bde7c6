#!/usr/bin/env -S node --max-old-space-size=384 --max-semi-space-size=4
// The `qasynth` command: runs the compiled CLI (`npm run build` creates dist/).
// The V8 flags bound the heap: with Node's defaults on a large machine V8 grows it lazily (a worker running 64
// seeds reached ~800 MB RSS with a live heap under 150 MB); with them it stays under 500 MB. When you start
// the CLI as `node bin/qasynth.js`, pass them yourself or via NODE_OPTIONS.
const path = require('node:path');
const fs = require('node:fs');
const main = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write('error: qasynth is not built yet; run `npm run build` (or `npm run setup`) in ' + path.dirname(__dirname) + '\n');
  process.exit(3);
}
require(main);
