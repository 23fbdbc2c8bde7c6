#!/usr/bin/env node
// The `qasynth` command: runs the compiled CLI (`npm run build` creates dist/).
const path = require('node:path');
const fs = require('node:fs');
const main = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write('error: qasynth is not built yet; run `npm run build` (or `npm run setup`) in ' + path.dirname(__dirname) + '\n');
  process.exit(3);
}
require(main);
