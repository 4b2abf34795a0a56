#!/usr/bin/env node
// CTest's runner for one Node test file: `node --test` with the spec reporter on stdout, plus a TAP
// copy read afterwards. A file that passed but skipped any test (t.skip(), { skip }, a skipped
// describe) exits 77, which CTest reports as skipped (SKIP_RETURN_CODE 77): something that could not
// run here is never reported as passed. A failure wins over skips (exit code of node --test). Todo
// tests count as neither.
//
// Usage: node node_test.mjs FILE.test.mjs [extra node --test arguments]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [file, ...extra] = process.argv.slice(2);
if (!file) {
  console.error('usage: node_test.mjs FILE.test.mjs [node --test arguments]');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'webim-node-test-'));
const tap = join(dir, 'out.tap');
const child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-reporter-destination=stdout',
  '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...extra, file], { stdio: 'inherit' });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => child.kill(sig));
const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));

let skipped = [];
try {
  skipped = readFileSync(tap, 'utf8').split('\n')
    .map((l) => /^\s*ok \d+ - (.*?) # SKIP(?: (.*))?$/.exec(l))
    .filter(Boolean)
    .map(([, name, reason]) => `${name}${reason ? ` (${reason})` : ''}`);
} catch { /* no TAP: the run failed early, code says so */ }
rmSync(dir, { recursive: true, force: true });
if (code !== 0) process.exit(code);
if (skipped.length) {
  console.log(`node_test: ${skipped.length} test(s) skipped, so this file is reported as skipped: ${skipped.join('; ')}`);
  process.exit(77);
}
process.exit(0);
