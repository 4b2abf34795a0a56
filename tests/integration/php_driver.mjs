// The PHP library's test driver (tests/integration/php/driver.php) seen from Node: php-cli with
// php-zmq and php-curl, or the reason a test file must skip, and one long-lived driver process that
// takes one JSON command per line and answers one JSON line each (`hub`, `http`, `call`, `ok`).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { sleep } from './harness.mjs';

export const PHP = process.env.WEBIM_PHP || 'php';
export const PHP_DIR = new URL('./php/', import.meta.url).pathname;

// false when php-cli has php-zmq and php-curl; else why not (for { skip }).
export function phpSkipReason() {
  const probe = spawnSync(PHP, ['-r', 'echo extension_loaded("zmq") ? "zmq" : "no-zmq", " ", extension_loaded("curl") ? "curl" : "no-curl";'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return `php-cli not found (${PHP}): apt-get install php-cli php-zmq php-curl`;
  if (!probe.stdout.startsWith('zmq')) return 'php-zmq is not loaded: apt-get install php-zmq';
  if (!probe.stdout.includes(' curl')) return 'php-curl is not loaded: apt-get install php-curl';
  return false;
}

export class PhpDriver {
  constructor() {
    this.child = spawn(PHP, [join(PHP_DIR, 'driver.php')], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.stderr = '';
    this.child.stderr.on('data', (d) => { this.stderr += d; });
    this.buffer = '';
    this.waiters = [];
    this.child.stdout.on('data', (d) => {
      this.buffer += d;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        this.waiters.shift()(JSON.parse(line));
      }
    });
  }
  send(command, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`php driver: no answer to ${JSON.stringify(command)}\n${this.stderr}`)), timeoutMs);
      this.waiters.push((r) => { clearTimeout(timer); resolve(r); });
      this.child.stdin.write(JSON.stringify(command) + '\n');
    });
  }
  hub(name, config, timeoutMs) { return this.send({ do: 'hub', name, config, timeout_ms: timeoutMs }); }
  http(name, urls, key, timeoutMs) { return this.send({ do: 'http', name, urls, key, timeout_ms: timeoutMs }); }
  call(name, method, ...args) { return this.send({ do: 'call', name, method, args }); }
  // Like call() but asserts success and returns the result.
  async ok(name, method, ...args) {
    const r = await this.call(name, method, ...args);
    assert.equal(r.ok, true, `${name}.${method}(${JSON.stringify(args)}) failed: ${JSON.stringify(r)}\n${this.stderr}`);
    return r.result;
  }
  // Resolves with the exit code; a driver still alive after 5 s is killed and reported as 'hung'
  // (PHP exit must never block on a ZeroMQ context).
  close() {
    const exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.stdin.end();
    return Promise.race([exited, sleep(5000).then(() => { this.child.kill('SIGKILL'); return 'hung'; })]);
  }
}
