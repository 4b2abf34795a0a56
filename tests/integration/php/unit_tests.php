<?php
// Pure tests of clients/php (no webim server): Token (a known-answer vector computed with
// `openssl dgst -sha256 -hmac`), base64url, slot mapping (values from Python's zlib.crc32), the
// shard table, request building and reply decoding, and Hub's timeout / resend / socket reset /
// CURVE paths against fake_hub.php. Prints TAP; exit status 0 when everything passed.
//   php tests/integration/php/unit_tests.php
declare(strict_types=1);

require __DIR__ . '/../../../clients/php/autoload.php';

use Webim\{Hub, HubException, HttpApi, RawJson, Request, ShardTable, TimeoutException, Token};

$failures = 0;
$count = 0;
function test(string $name, callable $fn): void
{
    global $failures, $count;
    ++$count;
    try {
        $fn();
        echo "ok $count - $name\n";
    } catch (Throwable $e) {
        ++$failures;
        echo "not ok $count - $name\n  # " . get_class($e) . ': ' . str_replace("\n", "\n  # ", $e->getMessage())
            . "\n  # at " . $e->getFile() . ':' . $e->getLine() . "\n";
    }
}
function eq(mixed $expected, mixed $actual, string $what = ''): void
{
    if ($expected !== $actual) {
        throw new RuntimeException("$what: expected " . var_export($expected, true) . ', got ' . var_export($actual, true));
    }
}
function ok(bool $cond, string $what): void
{
    if (!$cond) {
        throw new RuntimeException("failed: $what");
    }
}
/** Runs $fn, expects $class (and for HubException the error code); returns the exception. */
function throws(string $class, callable $fn, ?string $code = null): Throwable
{
    try {
        $fn();
    } catch (Throwable $e) {
        if (!$e instanceof $class) {
            throw new RuntimeException("expected $class, got " . get_class($e) . ': ' . $e->getMessage(), 0, $e);
        }
        if ($code !== null) {
            eq($code, $e->errorCode, 'error code');
        }
        return $e;
    }
    throw new RuntimeException("expected $class, nothing thrown");
}

const SECRET = '0123456789abcdef0123456789abcdef'; // 32 bytes

// ---- Token -------------------------------------------------------------------------------------
test('Token::issue matches a vector computed with openssl', function () {
    // printf '%s' "$H.$P" | openssl dgst -sha256 -hmac 0123456789abcdef0123456789abcdef -binary | basenc --base64url
    $expected = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9'
        . '.eyJzdWIiOiI0MiIsImV4cCI6MTcwMDAwMzYwMCwiaWF0IjoxNzAwMDAwMDAwLCJjaCI6WyJyb29tOjEiLCJ1c2VyOjQyIl0sInB1YiI6WyJyb29tOjEiXX0'
        . '.k89MdrBQxNK2Xm4Grm86ASBrkkxlyUpF47_PdoAEV10';
    eq($expected, Token::issue('42', ['room:1', 'user:42'], ['room:1'], 3600, SECRET, 1700000000), 'token');
});

test('Token claims: sub, exp, iat, ch, pub in that order; patterns as JSON arrays', function () {
    $jwt = Token::issue('é7', ['a' => 'room:*'], [], 60, SECRET, 1000);
    [$h, $p] = explode('.', $jwt);
    eq('{"alg":"HS256","typ":"JWT"}', Token::base64UrlDecode($h), 'header');
    eq('{"sub":"é7","exp":1060,"iat":1000,"ch":["room:*"],"pub":[]}', Token::base64UrlDecode($p), 'payload');
});

test('Token::issue rejects short secrets, bad patterns, empty users and ttl < 1', function () {
    throws(InvalidArgumentException::class, fn () => Token::issue('1', [], [], 60, str_repeat('x', 31)));
    Token::issue('1', [], [], 60, str_repeat('x', 32));
    throws(InvalidArgumentException::class, fn () => Token::issue('1', ['bad name'], [], 60, SECRET));
    throws(InvalidArgumentException::class, fn () => Token::issue('1', ['room:*x'], [], 60, SECRET));
    throws(InvalidArgumentException::class, fn () => Token::issue('1', [], [7], 60, SECRET));
    throws(InvalidArgumentException::class, fn () => Token::issue('1', [str_repeat('a', 129)], [], 60, SECRET));
    Token::issue('1', ['*', str_repeat('a', 128), str_repeat('a', 127) . '*'], [], 60, SECRET);
    throws(InvalidArgumentException::class, fn () => Token::issue('', [], [], 60, SECRET));
    throws(InvalidArgumentException::class, fn () => Token::issue("4\x002", [], [], 60, SECRET));
    throws(InvalidArgumentException::class, fn () => Token::issue("42\n", [], [], 60, SECRET));
    throws(InvalidArgumentException::class, fn () => Token::issue(str_repeat('u', 129), [], [], 60, SECRET));
    Token::issue(str_repeat('u', 128), [], [], 60, SECRET);
    throws(InvalidArgumentException::class, fn () => Token::issue('1', [], [], 0, SECRET));
});

test('Token::verify: round trip, rotation, tampering, alg, expiry with 30 s leeway', function () {
    $jwt = Token::issue('42', ['room:1'], ['room:1'], 100, SECRET, 1000);
    eq('42', Token::verify($jwt, SECRET, 1050)['sub'], 'sub');
    eq('42', Token::verify($jwt, [str_repeat('z', 32), SECRET], 1050)['sub'], 'second secret');
    eq(1100, Token::verify($jwt, SECRET, 1129)['exp'], 'within leeway');
    throws(InvalidArgumentException::class, fn () => Token::verify($jwt, SECRET, 1130));
    throws(InvalidArgumentException::class, fn () => Token::verify($jwt, str_repeat('z', 32), 1050));
    [$h, $p, $s] = explode('.', $jwt);
    $forged = Token::base64UrlEncode(str_replace('"42"', '"43"', Token::base64UrlDecode($p)));
    throws(InvalidArgumentException::class, fn () => Token::verify("$h.$forged.$s", SECRET, 1050));
    $h384 = Token::base64UrlEncode('{"alg":"HS384","typ":"JWT"}');
    $s384 = Token::base64UrlEncode(hash_hmac('sha384', "$h384.$p", SECRET, true));
    throws(InvalidArgumentException::class, fn () => Token::verify("$h384.$p.$s384", SECRET, 1050));
    throws(InvalidArgumentException::class, fn () => Token::verify(Token::base64UrlEncode('{"alg":"none"}') . ".$p.", SECRET, 1050));
});

// ---- base64url ---------------------------------------------------------------------------------
test('base64url: - and _ instead of + and /, no padding, strict decoding', function () {
    eq('-__-', Token::base64UrlEncode("\xfb\xff\xfe"), 'three bytes');
    eq('-_8', Token::base64UrlEncode("\xfb\xff"), 'two bytes');
    eq('YQ', Token::base64UrlEncode('a'), 'one byte');
    eq('', Token::base64UrlEncode(''), 'empty');
    eq("\xfb\xff", Token::base64UrlDecode('-_8'), 'decode');
    eq("\xfb\xff", Token::base64UrlDecode('-_8='), 'decode padded');
    eq('a', Token::base64UrlDecode('YQ'), 'decode 1');
    throws(InvalidArgumentException::class, fn () => Token::base64UrlDecode('+/8'));
    throws(InvalidArgumentException::class, fn () => Token::base64UrlDecode('YQ.x'));
    throws(InvalidArgumentException::class, fn () => Token::base64UrlDecode('Y'));
    for ($n = 1; $n < 40; ++$n) {
        $bytes = random_bytes($n);
        eq($bytes, Token::base64UrlDecode(Token::base64UrlEncode($bytes)), "round trip $n");
    }
});

// ---- slots and shard table ---------------------------------------------------------------------
test('slot = crc32(name) % 1024, the values of Python zlib.crc32', function () {
    // python3 -c 'import zlib; print(zlib.crc32(b"room:1"), zlib.crc32(b"room:1") % 1024)'
    eq(3145174160, crc32('room:1'), 'crc32(room:1)');
    eq(144, ShardTable::slotOf('room:1'), 'room:1');
    eq(421, ShardTable::slotOf('room:7'), 'room:7');
    eq(390, ShardTable::slotOf('user:42'), 'user:42');
    eq(335, ShardTable::slotOf('pub:news'), 'pub:news');
    eq(204, ShardTable::slotOf('dm:a:b'), 'dm:a:b');
    eq(1001, ShardTable::slotOf('room:10'), 'room:10');
});

const TABLE = '{"slots":1024,"shards":['
    . '{"name":"hub0","slots":"0-511","app_ingress":"tcp://127.0.0.1:5560","hub_pub":"tcp://127.0.0.1:5562"},'
    . '{"name":"hub1","slots":"512-1023","app_ingress":"tcp://127.0.0.1:5570"}]}';

test('shard table: parsing and routing', function () {
    $table = ShardTable::fromJson(TABLE);
    eq(['hub0', 'hub1'], array_column($table->shards(), 'name'), 'names');
    eq('hub0', $table->shardFor('room:1')['name'], 'room:1 (slot 144)');
    eq('tcp://127.0.0.1:5570', $table->shardFor('room:10')['app_ingress'], 'room:10 (slot 1001)');
    eq('tcp://127.0.0.1:5562', $table->shardFor('room:7')['hub_pub'], 'other keys are kept');
    eq('hub0', $table->shardOfSlot(511)['name'], 'slot 511');
    eq('hub1', $table->shardOfSlot(512)['name'], 'slot 512');
    $file = tempnam(sys_get_temp_dir(), 'shards');
    file_put_contents($file, TABLE);
    eq('hub1', ShardTable::fromFile($file)->shardFor('room:10')['name'], 'from a file');
    unlink($file);
    $mixed = ShardTable::fromArray(['shards' => [
        ['name' => 'a', 'slots' => '0-99, 200-299,1000', 'app_ingress' => 'ipc:///a'],
        ['name' => 'b', 'slots' => ['100-199', 300, '301-999', 1001, '1002-1023'], 'app_ingress' => 'ipc:///b'],
    ]]);
    eq('a', $mixed->shardOfSlot(1000)['name'], 'single slot in a list');
    eq('b', $mixed->shardOfSlot(150)['name'], 'range in an array');
    eq('b', $mixed->shardOfSlot(300)['name'], 'integer in an array');
    eq('a', $mixed->shardOfSlot(250)['name'], 'second range');
    eq('hub0', ShardTable::single('ipc:///x')->shardFor('anything')['name'], 'single');
});

test('shard table: overlaps, gaps and bad entries are rejected', function () {
    $bad = [
        'overlap' => ['shards' => [['slots' => '0-600', 'app_ingress' => 'ipc:///a'], ['slots' => '600-1023', 'app_ingress' => 'ipc:///b']]],
        'self overlap' => ['shards' => [['slots' => '0-1023,5', 'app_ingress' => 'ipc:///a']]],
        'gap' => ['shards' => [['slots' => '0-510', 'app_ingress' => 'ipc:///a'], ['slots' => '512-1023', 'app_ingress' => 'ipc:///b']]],
        'reversed' => ['shards' => [['slots' => '1023-0', 'app_ingress' => 'ipc:///a']]],
        'out of range' => ['shards' => [['slots' => '0-1024', 'app_ingress' => 'ipc:///a']]],
        'garbage range' => ['shards' => [['slots' => '0-x', 'app_ingress' => 'ipc:///a']]],
        'no slots' => ['shards' => [['app_ingress' => 'ipc:///a']]],
        'no endpoint' => ['shards' => [['slots' => '0-1023']]],
        'duplicate name' => ['shards' => [['name' => 'h', 'slots' => '0-9', 'app_ingress' => 'ipc:///a'], ['name' => 'h', 'slots' => '10-1023', 'app_ingress' => 'ipc:///b']]],
        'slots not 1024' => ['slots' => 2048, 'shards' => [['slots' => '0-1023', 'app_ingress' => 'ipc:///a']]],
        'no shards' => ['shards' => []],
        'bad curve key' => ['shards' => [['slots' => '0-1023', 'app_ingress' => 'ipc:///a', 'curve_server_key' => 'short']]],
    ];
    foreach ($bad as $what => $table) {
        try {
            ShardTable::fromArray($table);
        } catch (InvalidArgumentException $e) {
            continue;
        }
        throw new RuntimeException("$what was accepted");
    }
    $e = throws(InvalidArgumentException::class, fn () => ShardTable::fromArray($bad['gap']));
    ok(str_contains($e->getMessage(), 'slot 511'), 'the gap is named: ' . $e->getMessage());
    $e = throws(InvalidArgumentException::class, fn () => ShardTable::fromArray($bad['overlap']));
    ok(str_contains($e->getMessage(), 'slot 600'), 'the overlap is named: ' . $e->getMessage());
    throws(InvalidArgumentException::class, fn () => ShardTable::fromJson('{"shards":'));
    throws(InvalidArgumentException::class, fn () => ShardTable::fromFile('/nonexistent/shards.json'));
});

test('Hub config forms: endpoint, table array, table file, list of endpoints', function () {
    eq('hub0', (new Hub('ipc:///tmp/x'))->shardTable()->shardOfSlot(1023)['name'], 'endpoint');
    eq('hub1', (new Hub(json_decode(TABLE, true)))->shardTable()->shardFor('room:10')['name'], 'array');
    $list = (new Hub(['ipc:///a', 'ipc:///b', 'ipc:///c']))->shardTable();
    eq(['ipc:///a', 'ipc:///a', 'ipc:///b', 'ipc:///b', 'ipc:///c'], array_map(
        fn ($s) => $list->shardOfSlot($s)['app_ingress'],
        [0, 340, 341, 681, 682],
    ), 'even split');
    throws(InvalidArgumentException::class, fn () => new Hub(['shards' => [['slots' => '0-1023', 'app_ingress' => 'ipc:///a', 'curve_server_key' => str_repeat('a', 40)]]]));
    throws(InvalidArgumentException::class, fn () => new Hub('ipc:///x', 0));
    throws(InvalidArgumentException::class, fn () => new Hub([]));
});

// ---- request building and replies ---------------------------------------------------------------
test('request bodies are the JSON of docs/protocol.md section 4', function () {
    eq('{"op":"pub","ch":"room:1","from":"system","cid":"c1","data":{"text":"é/x","n":[1,2.5,null]}}',
        Request::publish('room:1', ['text' => 'é/x', 'n' => [1, 2.5, null]], 'c1'), 'pub');
    eq('{"op":"pub","ch":"room:1","from":"bot","cid":"c2","data":{"n":1234567890123456789012345, "k" : 1}}',
        Request::publish('room:1', new RawJson(' {"n":1234567890123456789012345, "k" : 1} '), 'c2', 'bot'), 'pub raw');
    eq('{"op":"pub","ch":"a","from":"system","cid":"c","data":"x"}', Request::publish('a', 'x', 'c'), 'string data');
    eq('{"op":"pub","ch":"a","from":"system","cid":"c","data":{}}', Request::publish('a', new stdClass(), 'c'), 'empty object');
    eq('{"op":"hist","ch":"room:1","limit":50}', Request::history('room:1'), 'hist');
    eq('{"op":"hist","ch":"room:1","before":9,"limit":5}', Request::history('room:1', 9, null, 5), 'hist before');
    eq('{"op":"hist","ch":"room:1","after":0,"limit":200}', Request::history('room:1', null, 0, 200), 'hist after');
    eq('{"op":"kick","user":"42","code":4003,"reason":"banned"}', Request::kick('42', 4003, 'banned'), 'kick');
    eq('{"op":"stats"}', Request::stats(), 'stats');
    eq('{"op":"read","user":"42","ch":"dm:42:7","seq":12}', Request::read('42', 'dm:42:7', 12), 'read');
    eq('{"op":"unread","user":"42","chs":["room:1","dm:42:7"]}', Request::unread('42', ['a' => 'room:1', 'b' => 'dm:42:7']), 'unread');
    throws(InvalidArgumentException::class, fn () => Request::publish('a', NAN, 'c'));
    throws(InvalidArgumentException::class, fn () => Request::publish('a', "\xff", 'c'));
    throws(InvalidArgumentException::class, fn () => new RawJson('{"a":'));
    throws(InvalidArgumentException::class, fn () => new RawJson(''));
    throws(InvalidArgumentException::class, fn () => new RawJson('{} {}'));
});

test('generated cids are php- + 24 hex digits and unique', function () {
    $seen = [];
    for ($i = 0; $i < 1000; ++$i) {
        $cid = Request::newCid();
        ok((bool) preg_match('/^php-[0-9a-f]{24}$/D', $cid), $cid);
        $seen[$cid] = true;
    }
    eq(1000, count($seen), 'unique');
});

test('replies: ok stripped, errors as HubException with the code, big integers as strings', function () {
    eq(['epoch' => '00000000000000aa', 'seq' => 3], Request::decodeReply('{"ok":true,"epoch":"00000000000000aa","seq":3}'), 'ok');
    eq('1234567890123456789012345', Request::decodeReply('{"ok":true,"msgs":[{"data":{"n":1234567890123456789012345}}]}')['msgs'][0]['data']['n'], 'bigint');
    $e = throws(HubException::class, fn () => Request::decodeReply('{"ok":false,"code":"wrong_shard","msg":"hub1 owns slot 7"}'), 'wrong_shard');
    eq('wrong_shard: hub1 owns slot 7', $e->getMessage(), 'message');
    ok(!$e->isRetryable(), 'wrong_shard is not retryable');
    ok(throws(HubException::class, fn () => Request::decodeReply('{"ok":false}'), 'unavailable')->isRetryable(), 'unavailable');
    throws(HubException::class, fn () => Request::decodeReply('<html>'), 'bad_reply');
    throws(HubException::class, fn () => Request::decodeReply('[1]'), 'bad_reply');
    ok((new TimeoutException('x', 'php-1'))->isRetryable(), 'timeout is retryable');
    eq('timeout', (new TimeoutException('x'))->errorCode, 'timeout code');
    ok(new TimeoutException('x') instanceof HubException, 'a TimeoutException is a HubException');
});

test('HttpApi validates its configuration', function () {
    new HttpApi('http://127.0.0.1:1', 'k');
    new HttpApi(['http://a:1/', 'https://b'], 'k');
    throws(InvalidArgumentException::class, fn () => new HttpApi('127.0.0.1:8080', 'k'));
    throws(InvalidArgumentException::class, fn () => new HttpApi([], 'k'));
    throws(InvalidArgumentException::class, fn () => new HttpApi('http://a', ''));
    throws(InvalidArgumentException::class, fn () => new HttpApi('http://a', "k\r\nX-Evil: 1"));
});

// ---- Hub against fake_hub.php -------------------------------------------------------------------
/** Starts fake_hub.php; returns [process, log file]. */
function fakeHub(string $endpoint, array $args = []): array
{
    $log = tempnam(sys_get_temp_dir(), 'fakehub');
    $cmd = [PHP_BINARY, __DIR__ . '/fake_hub.php', $endpoint, $log, ...$args];
    $proc = proc_open($cmd, [0 => ['pipe', 'r'], 1 => ['pipe', 'w'], 2 => STDERR], $pipes);
    $GLOBALS['fakeHubs'][] = $proc; // stopped at the end even when a test fails midway
    $line = fgets($pipes[1]);
    if ($line !== "ready\n") {
        throw new RuntimeException('fake hub did not start: ' . var_export($line, true));
    }
    return [$proc, $log];
}
function stopFakeHub(array $fake): array
{
    [$proc, $log] = $fake;
    $GLOBALS['fakeHubs'] = array_filter($GLOBALS['fakeHubs'], fn ($p) => $p !== $proc);
    proc_terminate($proc, 9);
    proc_close($proc);
    $lines = array_map(fn ($l) => json_decode($l, true), file($log, FILE_IGNORE_NEW_LINES));
    unlink($log);
    return $lines;
}
$fakeHubs = [];
$dir = sys_get_temp_dir() . '/webim-php-unit-' . getmypid();
mkdir($dir);

test('Hub: no hub -> TimeoutException within the timeout, cid kept; same object works once one answers', function () use ($dir) {
    $endpoint = "ipc://$dir/late";
    $hub = new Hub($endpoint, 600);
    $t = hrtime(true);
    $e = throws(TimeoutException::class, fn () => $hub->publish('room:1', ['n' => 1], 'my-cid'));
    $ms = (hrtime(true) - $t) / 1e6;
    ok($ms >= 590 && $ms < 900, "timed out after $ms ms");
    eq('my-cid', $e->cid, 'cid in the exception');
    ok($hub->resets() >= 1, 'socket discarded');
    $e = throws(TimeoutException::class, fn () => $hub->publish('room:1', 1));
    ok((bool) preg_match('/^php-[0-9a-f]{24}$/D', (string) $e->cid), 'generated cid reported: ' . $e->cid);
    $fake = fakeHub($endpoint);
    $reply = $hub->publish('room:1', ['n' => 2], 'c-after');
    eq(['epoch' => '00000000000000aa', 'seq' => 1], $reply, 'works after the reset');
    eq(['hub0' => ['published' => 1]], $hub->stats(), 'stats keyed by shard');
    $requests = stopFakeHub($fake);
    eq(['c-after'], array_column(array_filter($requests, fn ($r) => $r['op'] === 'pub'), 'cid'), 'only requests sent after the hub came up');
});

test('Hub: a lost reply is resent within the call with the same cid', function () use ($dir) {
    $endpoint = "ipc://$dir/drop";
    $fake = fakeHub($endpoint, ['--drop', '1']);
    $hub = new Hub($endpoint, 1500);
    $t = hrtime(true);
    eq(1, $hub->publish('room:1', 'x')['seq'], 'seq');
    $ms = (hrtime(true) - $t) / 1e6;
    ok($ms >= 450 && $ms < 1400, "resent after the attempt window ($ms ms)");
    eq(1, $hub->resets(), 'one reset');
    $requests = stopFakeHub($fake);
    eq(2, count($requests), 'sent twice');
    eq($requests[0], $requests[1], 'the same request (same cid)');
    ok(str_starts_with($requests[0]['cid'], 'php-'), 'generated cid');
});

test('Hub: unavailable is retried with the same cid; bad_request is not', function () use ($dir) {
    $endpoint = "ipc://$dir/unavailable";
    $fake = fakeHub($endpoint, ['--unavailable', '2']);
    $hub = new Hub($endpoint, 2000);
    eq(1, $hub->publish('room:1', 'x', 'u1')['seq'], 'seq');
    throws(HubException::class, fn () => $hub->request('{"op":"nope"}'), 'bad_request');
    $requests = stopFakeHub($fake);
    eq(['u1', 'u1', 'u1'], array_column(array_slice($requests, 0, 3), 'cid'), 'three tries, one cid');
    eq(4, count($requests), 'bad_request sent once');
    eq(0, $hub->resets(), 'no socket reset for replies');
});

test('Hub: CURVE to a hub that requires it', function () use ($dir) {
    $server = ZMQ::curveKeypair();
    $client = ZMQ::curveKeypair();
    $endpoint = "ipc://$dir/curve";
    $fake = fakeHub($endpoint, ['--curve-secret', $server['secret_key']]);
    $shards = [['name' => 'secure', 'slots' => '0-1023', 'app_ingress' => $endpoint, 'curve_server_key' => $server['public_key']]];
    $hub = new Hub(['shards' => $shards, 'curve_public_key' => $client['public_key'], 'curve_secret_key' => $client['secret_key']], 2000);
    eq(1, $hub->publish('room:1', 'secret')['seq'], 'seq over CURVE');
    $wrong = ZMQ::curveKeypair();
    $shards[0]['curve_server_key'] = $wrong['public_key'];
    $bad = new Hub(['shards' => $shards, 'curve_public_key' => $client['public_key'], 'curve_secret_key' => $client['secret_key']], 400);
    throws(TimeoutException::class, fn () => $bad->publish('room:1', 'x'));
    eq(1, count(stopFakeHub($fake)), 'the wrong key got nothing through');
});

test('a process with several Hubs (replaced, timed out, pending) exits promptly, also on a fatal error', function () use ($dir) {
    $endpoint = "ipc://$dir/exit";
    $fake = fakeHub($endpoint);
    $autoload = var_export(__DIR__ . '/../../../clients/php/autoload.php', true);
    foreach (['' => 0, 'undefined_function_to_die();' => 255] as $tail => $status) {
        $script = "<?php require $autoload;\n"
            . "\$h = [];\n"
            . "for (\$i = 0; \$i < 4; ++\$i) {\n"
            . "  \$h[\$i % 2] = new Webim\\Hub('$endpoint', 300); \$h[\$i % 2]->publish('room:1', \$i);\n"
            . "  \$d = new Webim\\Hub('ipc://$dir/nobody', 260); try { \$d->publish('room:1', 1); } catch (Webim\\TimeoutException) {}\n"
            . "}\n\$keep = \$d; $tail\n";
        $file = "$dir/exit.php";
        file_put_contents($file, $script);
        $t = hrtime(true);
        $proc = proc_open(['timeout', '10', PHP_BINARY, $file], [1 => ['pipe', 'w'], 2 => ['pipe', 'w']], $pipes);
        $out = stream_get_contents($pipes[1]) . stream_get_contents($pipes[2]);
        $code = proc_close($proc);
        $ms = (hrtime(true) - $t) / 1e6;
        eq($status, $code, "exit status ($out)");
        ok($ms < 5000, "exited after $ms ms");
    }
    stopFakeHub($fake);
});

foreach ($fakeHubs as $proc) {
    proc_terminate($proc, 9);
    proc_close($proc);
}
foreach (glob("$dir/*") as $f) {
    @unlink($f);
}
@rmdir($dir);
echo "1..$count\n";
echo $failures === 0 ? "# all $count passed\n" : "# $failures of $count FAILED\n";
exit($failures === 0 ? 0 : 1);
