#!/usr/bin/env node
// The fault-injection checker's CLI: runs one scenario against freshly started hubs and frontends
// and writes its report (counts per class, faults, reconnect times, RSS samples) as JSON.
//
// Usage: node tests/integration/checker/check.mjs --scenario NAME [--duration S] [--fault-every S]
//          [--out FILE.json] [--quiet]
// Scenarios: frontend-kill hub-restart frontend-stop slow-subscriber hwm-flood shard-restart disk-full
// Environment: WEBIM_FRONTEND, WEBIM_BROADCAST (the built binaries; default build-chk, then build).
// Exit code: 0 when nothing was lost, duplicated (delivered or on the wire), out of order or unexpected
// and publishing resumed within the scenario's bound after each fault; 1 otherwise; 77 skipped.
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
for (const dir of ['build-chk', 'build']) {
  const fe = join(root, dir, 'frontend/webim-frontend');
  const hub = join(root, dir, 'broadcast/webim-broadcast');
  if (!process.env.WEBIM_FRONTEND && existsSync(fe) && existsSync(hub)) {
    process.env.WEBIM_FRONTEND = fe;
    process.env.WEBIM_BROADCAST = hub;
  }
}
const { SCENARIOS, passed, runScenario } = await import('./lib.mjs');

const { values } = parseArgs({
  options: {
    scenario: { type: 'string' }, duration: { type: 'string', default: '10' }, 'fault-every': { type: 'string' },
    out: { type: 'string' }, quiet: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.scenario) {
  console.log(`usage: check.mjs --scenario NAME [--duration S] [--fault-every S] [--out FILE.json]\nscenarios: ${SCENARIOS.join(' ')}`);
  process.exit(values.help ? 0 : 2);
}
const duration = Number(values.duration);
const faultEveryS = values['fault-every'] !== undefined ? Number(values['fault-every']) : (duration >= 20 ? 10 : 0);
let report;
try {
  report = await runScenario(values.scenario, { duration, faultEveryS, log: values.quiet ? () => {} : (l) => console.error(l) });
} catch (e) {
  if (e.skip) {
    console.log(`${values.scenario}: ${e.message}`);
    if (values.out) writeFileSync(values.out, JSON.stringify({ scenario: values.scenario, skipped: e.message }, null, 1));
    process.exit(77);
  }
  if (values.out) writeFileSync(values.out, JSON.stringify({ scenario: values.scenario, error: e.message.split('\n--- logs')[0], logs: e.logs }, null, 1));
  throw e;
}
report.passed = passed(report);
if (values.out) writeFileSync(values.out, JSON.stringify(report, null, 1));
const c = report.counts;
console.log(`${report.scenario}: ${report.passed ? 'PASS' : 'FAIL'} sent ${report.messages.sent} acked ${report.messages.acked} ` +
  `deliveries ${report.messages.deliveries} faults ${report.faults.length} | lost ${c.lost} duplicated ${c.duplicated} ` +
  `storedTwice ${c.storedTwice} outOfOrder ${c.outOfOrder} unexpected ${c.unexpected} wireDuplicated ${c.wireDuplicated} ` +
  `unackedAtEnd ${c.unackedAtEnd} resyncs ${c.resyncs} | reconnect ms p50 ${report.reconnectMs.p50} p99 ${report.reconnectMs.p99} ` +
  `max ${report.reconnectMs.max} | resumed after the fault (ms, bound ${report.liveness.boundMs}): ` +
  `${JSON.stringify(report.liveness.worstMs)}`);
if (!report.passed) console.log(JSON.stringify({ examples: report.examples, liveness: report.liveness.faults }, null, 1));
process.exit(report.passed ? 0 : 1);
