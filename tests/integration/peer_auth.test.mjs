// Peer authentication of the hub (docs/configuration.md, "Who may connect"): with CURVE the hub
// admits on hub_ingress and hub_pub only the frontend keys of curve_frontend_clients and on
// app_ingress only the app keys of curve_app_clients (its ZAP handler); everyone else gets nothing
// on any socket. ipc:// socket files are created for the hub's user only, whatever the umask.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { apiPost, BROADCAST, Client, Cluster, FRONTEND, Process, freePort, runProgram, sleep, until } from './harness.mjs';

const PHP = process.env.WEBIM_PHP || 'php';
const PHP_LIB = new URL('../../clients/php/autoload.php', import.meta.url).pathname;
const phpSkip = (() => {
  const probe = spawnSync(PHP, ['-r', 'echo extension_loaded("zmq") ? "zmq" : "none";'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return `skipped: php-cli not found (${PHP})`;
  return probe.stdout === 'zmq' ? false : 'skipped: php-zmq is not loaded';
})();

const PEER_PROBE = process.env.WEBIM_PEER_PROBE ?? resolve(dirname(BROADCAST), '../tests/integration/peer_probe');

describe('CURVE allow-lists: the hub admits only listed client keys', () => {
  let cluster;
  const keys = {};  // name -> {key: secret key file, pub: public key}
  let hubPub;
  let lists;
  let good;

  // One JSON request on the app ingress as `webim-broadcast request` with the key pair `name`
  // (null: a throwaway key pair).
  const appRequest = (request, name, timeoutMs = 3000) => runProgram(BROADCAST, [
    'request', '--app-ingress', cluster.endpoints.app, '--server-key', hubPub, '--timeout-ms', String(timeoutMs),
    ...(name ? ['--curve-secret-key-file', keys[name].key] : []), JSON.stringify(request)]);
  const probe = (name, channel, user, ms) => runProgram(PEER_PROBE, [
    cluster.endpoints.ingress, cluster.endpoints.pub, hubPub, keys[name].key, channel, user, String(ms)]);
  const stats = async () => JSON.parse((await appRequest({ op: 'stats' }, 'app')).stdout);

  before(async () => {
    assert.ok(existsSync(PEER_PROBE), `peer_probe not built at ${PEER_PROBE} (set WEBIM_PEER_PROBE)`);
    cluster = new Cluster();
    for (const name of ['hub', 'fe', 'app', 'rogue']) {
      const prefix = join(cluster.dir, name);
      const made = await runProgram(BROADCAST, ['keygen', '--out', prefix]);
      assert.equal(made.code, 0, made.stderr);
      keys[name] = { key: `${prefix}.key`, pub: readFileSync(`${prefix}.pub`, 'utf8').trim() };
    }
    hubPub = keys.hub.pub;
    lists = { fe: join(cluster.dir, 'frontends.list'), app: join(cluster.dir, 'apps.list') };
    writeFileSync(lists.fe, `# the frontends\n${keys.fe.pub}  # fe-good\n`);
    writeFileSync(lists.app, `${keys.app.pub}\n`);
    // tcp:// as between hosts (here on loopback).
    const [a, i, p] = [await freePort(), await freePort(), await freePort()];
    cluster.endpoints = { app: `tcp://127.0.0.1:${a}`, ingress: `tcp://127.0.0.1:${i}`, pub: `tcp://127.0.0.1:${p}` };
    await cluster.startHub(['--curve-secret-key-file', keys.hub.key, '--curve-frontend-clients', lists.fe,
      '--curve-app-clients', lists.app]);
    good = await cluster.startFrontend(['--id', 'fe-good', '--hub-public-key', hubPub, '--curve-secret-key-file', keys.fe.key]);
  });

  after(() => cluster.stopCleanly());

  test('the app ingress answers the listed app key, and no other key', async () => {
    const listed = await appRequest({ op: 'stats' }, 'app');
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(JSON.parse(listed.stdout).ok, true);
    for (const name of ['rogue', null, 'fe']) {  // unknown key, throwaway key, a frontend's key
      const refused = await appRequest({ op: 'pub', ch: 'room:pa', data: 'forged', from: 'alice', cid: `x-${name}` }, name, 1000);
      assert.equal(refused.code, 1, `key ${name} must get no answer: ${refused.stdout}`);
    }
    assert.match(cluster.hub.log, /refused a CURVE client on app_ingress .*client key not allowed/);
    const page = JSON.parse((await appRequest({ op: 'hist', ch: 'room:pa', after: 0 }, 'app')).stdout);
    assert.deepEqual(page.msgs, [], 'nothing was published by the refused clients');
  });

  test('the PHP library presents its own key pair: listed, it publishes; unlisted, it times out', { skip: phpSkip }, async () => {
    const script = `require ${JSON.stringify(PHP_LIB)};
      [$endpoint, $server, $pub, $sec] = array_slice($argv, 1);
      $hub = new Webim\\Hub(['shards' => [['slots' => '0-1023', 'app_ingress' => $endpoint, 'curve_server_key' => $server]],
        'curve_public_key' => $pub, 'curve_secret_key' => $sec], 1000);
      try { echo json_encode($hub->publish('room:php', 'from php', 'php-1')); }
      catch (Webim\\HubException $e) { echo json_encode(['error' => $e->errorCode]); }`;
    const php = (name) => {
      const sec = readFileSync(keys[name].key, 'utf8').trim();
      return runProgram(PHP, ['-r', script, '--', cluster.endpoints.app, hubPub, keys[name].pub, sec]);
    };
    const listed = await php('app');
    assert.equal(listed.code, 0, listed.stderr);
    assert.equal(JSON.parse(listed.stdout).seq, 1, listed.stdout);
    const unlisted = await php('rogue');
    assert.deepEqual(JSON.parse(unlisted.stdout), { error: 'timeout' }, unlisted.stderr);
  });

  test('a listed frontend serves its clients', async () => {
    const c = await Client.connect(good.url);
    await c.auth(cluster.token('alice', ['room:*']));
    assert.equal((await c.request('sub', { ch: 'room:ok' })).op, 'ok');
    const ack = await c.request('pub', { ch: 'room:ok', data: 'hi', cid: 'ok-1' });
    assert.equal(ack.op, 'ok', JSON.stringify(ack));
    const [m] = await c.waitForMsgs(1);
    assert.equal(m.data, 'hi');
    await c.close();
  });

  test('an unlisted peer gets nothing on any socket: no publish, history, attach, kick or deliveries', async () => {
    const victim = await Client.connect(good.url);
    await victim.auth(cluster.token('victim', ['room:*', 'user:victim']));
    assert.equal((await victim.request('sub', { ch: 'room:pa' })).op, 'ok');
    assert.equal((await victim.request('sub', { ch: 'user:victim' })).op, 'ok');
    const before = await stats();
    const rogue = probe('rogue', 'room:pa', 'victim', 2500);
    await sleep(800);
    assert.equal(JSON.parse((await appRequest({ op: 'pub', ch: 'room:pa', data: 'for subscribers', cid: 'pa-1' }, 'app')).stdout).ok, true);
    assert.equal(JSON.parse((await appRequest({ op: 'pub', ch: 'user:victim', data: 'a DM', cid: 'pa-2' }, 'app')).stdout).ok, true);
    const seen = JSON.parse((await rogue).stdout);
    assert.deepEqual(seen, { replies: {}, deliveries: 0, syncs: 0, kicks: 0 });

    // The victim got both messages and was not kicked; nothing forged is in the history.
    const got = await victim.waitForMsgs(2);
    assert.deepEqual(got.map((m) => m.data), ['for subscribers', 'a DM']);
    assert.equal((await victim.request('sub', { ch: 'room:still-here' })).op, 'ok');
    const page = JSON.parse((await appRequest({ op: 'hist', ch: 'room:pa', after: 0 }, 'app')).stdout);
    assert.deepEqual(page.msgs.map((m) => m.from), ['system']);
    const after = await stats();
    assert.equal(after.frontends, 1, 'the probe\'s hello did not register a frontend');
    assert.equal(after.kicks, before.kicks);
    assert.ok(after.auth_refused >= before.auth_refused + 2, JSON.stringify(after));
    await victim.close();
  });

  test('a flood of refused handshakes is counted, not logged line by line', async () => {
    const lines = () => cluster.hub.log.split('\n').filter((l) => l.includes('refused')).length;
    const [linesBefore, before] = [lines(), await stats()];
    for (let round = 0; round < 4; ++round) {
      await Promise.all(Array.from({ length: 10 }, (_, i) => appRequest({ op: 'stats' }, 'rogue', 300 + i)));
    }
    const after = await stats();
    assert.ok(after.auth_refused >= before.auth_refused + 40, `${before.auth_refused} -> ${after.auth_refused}`);
    assert.ok(lines() - linesBefore <= 2, cluster.hub.log);
  });

  test('the same peer with a listed key is answered on every socket (control)', async () => {
    const listed = probe('fe', 'room:ctl', 'nobody', 3000);
    await sleep(1200);  // the probe is connected and subscribed by then
    assert.equal(JSON.parse((await appRequest({ op: 'pub', ch: 'room:ctl', data: 'x', cid: 'ctl-1' }, 'app')).stdout).ok, true);
    const seen = JSON.parse((await listed).stdout);
    assert.deepEqual(seen.replies, { attach: 'attached', hello: 'hub_info', history: 'history', kick: 'ok', publish: 'publish_ack' });
    assert.ok(seen.syncs >= 1 && seen.deliveries >= 1 && seen.kicks >= 1, JSON.stringify(seen));
  });

  test('a frontend process with an unlisted key cannot serve its clients; it says why', async () => {
    const rogue = await cluster.startFrontend(['--id', 'fe-rogue', '--hub-public-key', hubPub,
      '--curve-secret-key-file', keys.rogue.key, '--hub-timeout-ms', '800']);
    const victim = await Client.connect(good.url);
    await victim.auth(cluster.token('victim', ['room:*']));
    const eve = await Client.connect(rogue.url);
    await eve.auth(cluster.token('eve', ['room:*']));
    assert.equal((await eve.request('pub', { ch: 'room:pa', data: 'forged', cid: 'eve-1' })).code, 'unavailable');
    assert.equal((await eve.request('hist', { ch: 'room:pa', after: 0 })).code, 'unavailable');
    const sub = await eve.request('sub', { ch: 'room:pa' });
    await appRequest({ op: 'pub', ch: 'room:pa', data: 'not for eve', cid: 'pa-3' }, 'app');
    await sleep(500);
    assert.deepEqual(eve.msgs, [], `sub answered ${JSON.stringify(sub)}, yet messages arrived`);
    for (const [path, body] of [['kick', { user: 'victim' }], ['hist', { ch: 'room:pa', after: 0 }], ['publish', { ch: 'room:pa', data: 1 }]]) {
      const res = await apiPost(rogue.port, path, body, cluster.apiKey);
      assert.notEqual(res.body.ok, true, `${path}: ${JSON.stringify(res)}`);
    }
    assert.equal((await victim.request('sub', { ch: 'room:after-kick' })).op, 'ok', 'the victim was not kicked');
    assert.match(rogue.log, /refused this frontend's CURVE key .*curve_frontend_clients/);
    await eve.close();
    await victim.close();
  });

  test('SIGHUP rereads the lists: a frontend listed afterwards gets in without a restart', async () => {
    const rogue = cluster.frontends.find((f) => f.name === 'fe-rogue');
    appendFileSync(lists.fe, `${keys.rogue.pub}  # fe-rogue, admitted now\n`);
    cluster.hub.child.kill('SIGHUP');
    await until(() => /allow-lists reloaded \(2 frontend keys, 1 app keys\)/.test(cluster.hub.log), 'the reload', 15000);
    const eve = await Client.connect(rogue.url);
    await eve.auth(cluster.token('eve', ['room:*']));
    // The frontend connects again 10 s after the refusal.
    const ack = await until(async () => {
      // Until the frontend reconnects its answer is `unavailable` after hub_timeout_ms (slower
      // under ASan than the request's own timeout): both mean "not yet".
      const r = await eve.request('pub', { ch: 'room:hup', data: 'in', cid: 'hup-1' }, 8000).catch(() => null);
      return r?.op === 'ok' ? r : null;
    }, 'a publish through the admitted frontend', 30000, 200);  // under the rate limit
    assert.equal(ack.seq, 1);
    assert.match(rogue.log, /CURVE handshake succeeded after \d+ refusals/);
    await eve.close();
  });

  test('unsafe or inconsistent settings are configuration errors (exit 2, one line)', async () => {
    const data = ['--data', join(cluster.dir, 'cfg')];
    const badList = join(cluster.dir, 'bad.list');
    writeFileSync(badList, `${keys.fe.pub}\n${keys.fe.pub.slice(1)}\n`);
    const table = (keyA, keyB) => {
      const file = join(cluster.dir, `shards-${keyA.length}-${keyA === keyB}.json`);
      const shard = (name, slots, key) => ({ name, slots, app_ingress: 'ipc:///a', hub_ingress: 'ipc:///i', hub_pub: 'ipc:///p', curve_server_key: key });
      writeFileSync(file, JSON.stringify({ shards: [shard('hub0', '0-511', keyA), shard('hub1', '512-1023', keyB)] }));
      return file;
    };
    const cases = [
      [BROADCAST, ['--curve-secret-key-file', keys.hub.key, '--shards', table(keys.fe.pub, hubPub), '--shard', 'hub0', ...data],
        /this hub's public key is .*, but shard hub0 .* has curve_server_key/],
      [FRONTEND, ['--secret-file', cluster.secretFile, '--shards', table(hubPub, hubPub)], /have the same curve_server_key: give each hub its own key pair/],
      [BROADCAST, ['--hub-ingress', 'tcp://0.0.0.0:1', '--curve-secret-key-file', keys.hub.key, ...data],
        /hub_ingress: tcp:\/\/0\.0\.0\.0:1 binds off loopback: give curve_frontend_clients/],
      [BROADCAST, ['--app-ingress', 'tcp://0.0.0.0:1', '--curve-secret-key-file', keys.hub.key, '--curve-frontend-clients', lists.fe, ...data],
        /app_ingress: .* binds off loopback: give curve_app_clients/],
      [BROADCAST, ['--curve-frontend-clients', lists.fe, ...data], /curve_frontend_clients needs curve_secret_key_file/],
      [BROADCAST, ['--curve-secret-key-file', keys.hub.key, '--curve-frontend-clients', badList, ...data],
        /curve_frontend_clients: .*bad\.list: line 2: not a 40-character Z85 public key/],
      [BROADCAST, ['--app-ingress', 'tcp://127.0.0.1:1', '--app-ingress-group', 'nogroup', ...data], /app_ingress_group: needs an ipc:\/\/ app_ingress/],
      [BROADCAST, ['request', '--app-ingress', 'ipc:///nowhere', '--curve-secret-key-file', keys.app.key, '{}'], /goes with --server-key/],
      [FRONTEND, ['--secret-file', cluster.secretFile, '--hub-ingress', 'tcp://10.0.0.1:1', '--hub-pub', 'tcp://10.0.0.1:2', '--hub-public-key', hubPub],
        /off loopback: give this frontend's own CURVE key pair/],
      [FRONTEND, ['--secret-file', cluster.secretFile, '--curve-secret-key-file', keys.fe.key], /no hub speaks CURVE/],
      [FRONTEND, ['--secret-file', cluster.secretFile, '--hub-public-key', hubPub, '--curve-secret-key-file', cluster.secretFile],
        /must hold a 40-character Z85 secret key/],
    ];
    for (const [bin, args, pattern] of cases) {
      const r = await runProgram(bin, args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    }
  });
});

describe('ipc:// socket files admit only the hub\'s user', () => {
  const isRoot = process.getuid?.() === 0;
  let dir;
  let hub;
  let paths;
  let groupName;
  let groupId;
  let user;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'webim-ipc-'));
    chmodSync(dir, 0o755);  // reachable by everyone: only the socket files' modes protect them
    paths = { app: join(dir, 'app'), ingress: join(dir, 'ingress'), pub: join(dir, 'pub') };
    // As root any group; otherwise our own (chown needs membership).
    groupName = isRoot ? 'nogroup' : execFileSync('id', ['-gn']).toString().trim();
    groupId = Number(execFileSync('getent', ['group', groupName]).toString().split(':')[2]);
    // Under umask 0 a socket file would be created srwxrwxrwx: the hub must not depend on the umask.
    hub = new Process('hub', '/bin/sh', ['-c', 'umask 0; exec "$@"', 'sh', BROADCAST,
      '--app-ingress', `ipc://${paths.app}`, '--hub-ingress', `ipc://${paths.ingress}`, '--hub-pub', `ipc://${paths.pub}`,
      '--app-ingress-group', groupName, '--data', join(dir, 'hub')]);
    await until(() => /webim-broadcast ready/.test(hub.log) || hub.child.exitCode !== null, 'the hub', 15000);
    assert.match(hub.log, /webim-broadcast ready/);
  });

  after(async () => {
    if (hub) await hub.stop();
    if (user) execFileSync('userdel', [user]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('the frontend sockets are 0600, the app ingress 0660 for app_ingress_group', () => {
    for (const name of ['ingress', 'pub']) {
      const st = statSync(paths[name]);
      assert.ok(st.isSocket());
      assert.equal((st.mode & 0o777).toString(8), '600', name);
    }
    const app = statSync(paths.app);
    assert.equal((app.mode & 0o777).toString(8), '660');
    assert.equal(app.gid, groupId);
  });

  test('another local user cannot connect', { skip: isRoot ? false : 'skipped: needs root to create a throwaway user' }, async () => {
    user = `webimt${process.pid % 100000}`;
    execFileSync('useradd', ['-M', '-N', '-s', '/usr/sbin/nologin', user]);
    const uid = Number(execFileSync('id', ['-u', user]).toString());
    const gid = Number(execFileSync('id', ['-g', user]).toString());
    const bin = join(dir, 'webim-broadcast');
    copyFileSync(BROADCAST, bin);  // a path the user may execute
    chmodSync(bin, 0o755);
    const as = (endpoint) => runProgram(bin, ['request', '--app-ingress', endpoint, '--timeout-ms', '800', '{"op":"stats"}'], { uid, gid });
    for (const name of ['app', 'ingress']) {
      const r = await as(`ipc://${paths[name]}`);
      assert.equal(r.code, 1, `${user} reached ${name}: ${r.stdout}`);
    }
    // Control: the same user is answered once the file's mode lets it in.
    chmodSync(paths.app, 0o666);
    try {
      const r = await as(`ipc://${paths.app}`);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).ok, true);
    } finally {
      chmodSync(paths.app, 0o660);
    }
  });
});
