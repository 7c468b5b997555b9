#!/usr/bin/env node
// Runs every test file (compiled by scripts/setup.js) with Node's test runner, one file at a time (each file
// starts its own real servers), and ends with the line "N passed, N failed".
'use strict';
const { spawnSync } = require('node:child_process');
const { existsSync, readdirSync, readFileSync, mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const root = join(__dirname, '..');
const testDir = join(root, 'dist', 'test');

async function main() {
  // Real parts from Debian (sshd, iptables, …): installed when missing and we can (root with apt-get).
  if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
    spawnSync('bash', [join(root, 'scripts', 'install-test-deps.sh')], { stdio: 'inherit' });
  }
  const only = process.argv.slice(2);
  const files = readdirSync(testDir)
    .filter((file) => file.endsWith('.test.js'))
    .filter((file) => only.length === 0 || only.some((name) => file.includes(name)))
    .map((file) => join(testDir, file));
  // With no file given, node --test would search the whole tree for tests of its own choosing.
  if (files.length === 0) {
    console.error(`[tests] no test file in dist/test matches ${only.join(', ') || 'anything'}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
  // Find or build the Temporal CLI before any test runs, so a first build shows its progress here.
  const { findTemporalCli } = require(join(root, 'dist', 'client', 'temporalCli.js'));
  const cli = await findTemporalCli((line) => console.error(`[tests] ${line}`));
  if (cli === undefined && process.env.CI === 'true') {
    console.error('[tests] no Temporal CLI could be found or built: in CI that is a failure, not a skip');
  }
  // The Kubernetes test control plane (etcd, kube-apiserver, …, kwok): built once into .tools by
  // scripts/build-kube.sh when a selected test uses it (a cold build takes about a quarter of an hour).
  let kubeBuildFailed = false;
  if (files.some((file) => readFileSync(file, 'utf8').includes('support/kubernetes'))) {
    const build = spawnSync('bash', [join(root, 'scripts', 'build-kube.sh')], { stdio: 'inherit' });
    if (build.status !== 0) {
      kubeBuildFailed = process.env.CI === 'true';
      console.error(
        `[tests] building the Kubernetes test control plane failed${kubeBuildFailed ? ': in CI that is a test failure' : ''}`,
      );
    }
  }
  // The worker image's offline base (a debootstrapped Debian): its root filesystem is made once into .tools by
  // deploy/docker/offline-base.sh when a selected test imports it, so its minute stays out of that file's budget.
  // Should it fail here, the test runs the same script again and fails with its output.
  if (files.some((file) => readFileSync(file, 'utf8').includes('offline-base.sh'))) {
    spawnSync('bash', [join(root, 'deploy', 'docker', 'offline-base.sh'), '--rootfs-only'], {
      stdio: 'inherit',
    });
  }
  const work = mkdtempSync(join(tmpdir(), 'gameday-tap-'));
  const tap = join(work, 'results.tap');
  const result = spawnSync(
    process.execPath,
    [
      '--test',
      '--test-concurrency=1',
      // A hung test fails after 5 minutes instead of eating CI's whole budget.
      '--test-timeout=300000',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=tap',
      `--test-reporter-destination=${tap}`,
      ...files,
    ],
    { cwd: root, stdio: 'inherit' },
  );
  const summary = readFileSync(tap, 'utf8');
  rmSync(work, { recursive: true, force: true });
  const count = (name) => Number((summary.match(new RegExp(`^# ${name} (\\d+)$`, 'm')) ?? [])[1] ?? 0);
  const passed = count('pass');
  const failed =
    count('fail') +
    count('cancelled') +
    (result.status !== 0 && count('fail') === 0 ? 1 : 0) +
    (kubeBuildFailed ? 1 : 0);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || result.status !== 0 || passed === 0 ? 1 : 0);
}

main().catch((error) => {
  console.error(error);
  console.log('0 passed, 1 failed');
  process.exit(1);
});
