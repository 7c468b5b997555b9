#!/usr/bin/env node
// Everything `npm run demo`, `npm test` and `npm run bench` need on a fresh clone: dependencies, the compiled
// code and the prebuilt workflow bundle. The Temporal CLI is found or built on first use (client/temporalCli.ts).
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const run = (file, args) => execFileSync(file, args, { cwd: root, stdio: 'inherit' });

if (!existsSync(join(root, 'node_modules', '@temporalio', 'worker'))) {
  // npm install (with the lock file) rather than npm ci: see .ci/run.
  console.error('[setup] installing dependencies');
  run(npm, ['install', '--no-audit', '--no-fund']);
}
console.error('[setup] compiling TypeScript');
run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', root]);
console.error('[setup] bundling workflow code');
run(process.execPath, [join(root, 'dist', 'worker', 'workflowCode.js')]);
