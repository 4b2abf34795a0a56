// The checker as a soak: runs the fault-injection scenarios round-robin for a while (each segment
// a fresh cluster under load with its fault repeated), then writes a report: counts per class,
// (wire duplicates included), faults injected, how fast publishing resumed after them (liveness),
// reconnect times (p50/p99/max), and the RSS of the server processes over time
// (sampled from /proc every second) as a PNG (gnuplot) and JSON. Run through scripts/soak.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { SCENARIOS, passed, runScenario, summarize } from './lib.mjs';

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '5' }, scenarios: { type: 'string' }, out: { type: 'string' },
    segment: { type: 'string' }, 'fault-every': { type: 'string', default: '8' },
  },
});
const minutes = Number(values.duration);
const scenarios = values.scenarios ? values.scenarios.split(',') : SCENARIOS;
const out = values.out ?? `var/soak-${new Date().toISOString().replace(/[:.]/g, '-')}`;
mkdirSync(out, { recursive: true });
// Load seconds per segment: one round fits the duration (setup and drain take ~10 s more each).
const segment = Number(values.segment ?? Math.max(15, Math.floor((minutes * 60) / scenarios.length) - 10));
const faultEveryS = Number(values['fault-every']);

const CLASSES = ['lost', 'duplicated', 'storedTwice', 'outOfOrder', 'unexpected', 'wireDuplicated', 'unackedAtEnd', 'resyncs'];
const KINDS = ['library', 'app', 'delivery']; // liveness: time from a fault's end to acks / deliveries again
const totals = Object.fromEntries(CLASSES.map((k) => [k, 0]));
const perScenario = {};
const segments = [];
const reconnects = [];
const rss = []; // {t (s since start), name, mb, segment}
const start = Date.now();
const deadline = start + minutes * 60000;
let round = 0;
const log = (l) => console.error(`${((Date.now() - start) / 1000).toFixed(0).padStart(5)}s ${l}`);

outer:
for (;;) {
  for (const name of scenarios) {
    if (Date.now() >= deadline && segments.length >= scenarios.length) break outer;
    const segStart = Date.now();
    log(`segment ${segments.length + 1}: ${name} for ${segment} s, fault every ${faultEveryS} s`);
    let r;
    try {
      r = await runScenario(name, { duration: segment, faultEveryS, log: (l) => { if (/resync|error/.test(l)) log(l); } });
    } catch (e) {
      log(`${name}: ${e.skip ? 'SKIPPED' : 'ERROR'}: ${e.message.split('\n')[0]}`);
      segments.push({ scenario: name, round, skipped: !!e.skip, error: e.skip ? undefined : e.message.slice(0, 2000) });
      continue;
    }
    r.passed = passed(r);
    const ps = (perScenario[name] ??= { segments: 0, sent: 0, acked: 0, deliveries: 0, faults: 0, ...Object.fromEntries(CLASSES.map((k) => [k, 0])) });
    ps.segments++;
    ps.sent += r.messages.sent;
    ps.acked += r.messages.acked;
    ps.deliveries += r.messages.deliveries;
    ps.faults += r.faults.length;
    for (const k of CLASSES) { ps[k] += r.counts[k]; totals[k] += r.counts[k]; }
    // The slowest resumption after a fault per kind (null: one never resumed), and the bound.
    ps.liveBoundMs = r.liveness.boundMs;
    ps.resumedMs ??= Object.fromEntries(KINDS.map((k) => [k, 0]));
    for (const k of KINDS) {
      const v = r.liveness.worstMs[k];
      ps.resumedMs[k] = ps.resumedMs[k] === null || v === null ? null : Math.max(ps.resumedMs[k], v);
    }
    reconnects.push(...r.reconnectSamples);
    for (const s of r.rss) rss.push({ t: (s.t - start) / 1000, name: s.name, mb: s.kb / 1024, segment: segments.length });
    const { rss: _r, reconnectSamples: _s, ...keep } = r;
    segments.push({ round, ...keep });
    writeFileSync(join(out, `segment-${String(segments.length).padStart(3, '0')}-${name}.json`), JSON.stringify(r, null, 1));
    log(`${name}: ${r.passed ? 'PASS' : 'FAIL'} sent ${r.messages.sent} acked ${r.messages.acked} deliveries ${r.messages.deliveries} ` +
      `faults ${r.faults.length} counts ${JSON.stringify(r.counts)} (${((Date.now() - segStart) / 1000).toFixed(0)} s)`);
  }
  round++;
}

// RSS plot: one series per process name, a break between segments (each segment is a fresh cluster).
const names = [...new Set(rss.map((s) => s.name))].sort();
const plotLines = [];
for (const n of names) {
  const file = join(out, `rss-${n}.dat`);
  let prevSeg = null;
  const lines = [];
  for (const s of rss.filter((x) => x.name === n)) {
    if (prevSeg !== null && s.segment !== prevSeg) lines.push('');
    lines.push(`${s.t.toFixed(1)} ${s.mb.toFixed(2)}`);
    prevSeg = s.segment;
  }
  writeFileSync(file, lines.join('\n') + '\n');
  plotLines.push(`'${file}' using 1:2 with lines lw 2 title '${n}'`);
}
const png = join(out, 'rss.png');
const segLabels = segments.map((s, i) => s.skipped || s.error ? null : { i, name: s.scenario });
const firstT = (i) => rss.find((x) => x.segment === i)?.t;
const arrows = segLabels.filter(Boolean).map(({ i, name }) => firstT(i) === undefined ? '' :
  `set label '${name}' at ${firstT(i).toFixed(1)}, graph 0.97 rotate by 90 right font ',8'\n`).join('');
try {
  execFileSync('gnuplot', [], {
    input: `set terminal png size 1400,600\nset output '${png}'\nset title 'webim soak: RSS of the server processes (each segment a fresh cluster)'\n` +
      `set xlabel 'seconds since soak start'\nset ylabel 'RSS (MiB)'\nset key outside right\nset grid\n${arrows}plot ${plotLines.join(', ')}\n`,
  });
} catch (e) {
  log(`gnuplot failed: ${e.message}`);
}

const rssByName = Object.fromEntries(names.map((n) => {
  const v = rss.filter((x) => x.name === n).map((x) => x.mb);
  return [n, { samples: v.length, minMiB: Math.min(...v), maxMiB: Math.max(...v), lastMiB: v[v.length - 1] }];
}));
const report = {
  startedAt: new Date(start).toISOString(),
  minutes: (Date.now() - start) / 60000,
  segmentSeconds: segment,
  faultEveryS,
  scenarios,
  passed: segments.every((s) => s.skipped || (!s.error && s.passed)),
  totals,
  faultsInjected: segments.reduce((a, s) => a + (s.faults?.length ?? 0), 0),
  messages: Object.values(perScenario).reduce((a, p) => ({ sent: a.sent + p.sent, acked: a.acked + p.acked, deliveries: a.deliveries + p.deliveries }), { sent: 0, acked: 0, deliveries: 0 }),
  reconnectMs: summarize(reconnects),
  perScenario,
  rss: rssByName,
  rssSamples: rss,
  png,
  segments,
};
writeFileSync(join(out, 'soak.json'), JSON.stringify(report, null, 1));
const fmt = (o) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(', ');
const text = [
  `webim soak ${report.startedAt}: ${report.minutes.toFixed(1)} min, ${segments.length} segments of ${segment} s, fault every ${faultEveryS} s`,
  `result: ${report.passed ? 'PASS' : 'FAIL'}`,
  `messages: ${fmt(report.messages)}; faults injected: ${report.faultsInjected}`,
  `counts: ${fmt(totals)}`,
  `reconnect ms: n ${report.reconnectMs.count}, p50 ${report.reconnectMs.p50}, p99 ${report.reconnectMs.p99}, max ${report.reconnectMs.max}`,
  ...Object.entries(perScenario).map(([n, { resumedMs, ...p }]) => `  ${n}: ${fmt(p)}, resumed after faults (ms) ${JSON.stringify(resumedMs)}`),
  ...segments.filter((s) => s.skipped || s.error).map((s) => `  ${s.scenario}: ${s.skipped ? 'skipped' : 'ERROR ' + s.error.split('\n')[0]}`),
  'RSS (MiB): ' + Object.entries(rssByName).map(([n, r]) => `${n} ${r.minMiB.toFixed(1)}..${r.maxMiB.toFixed(1)}`).join(', '),
  `plot: ${png}; json: ${join(out, 'soak.json')}`,
].join('\n');
writeFileSync(join(out, 'report.txt'), text + '\n');
console.log(text);
process.exit(report.passed ? 0 : 1);
