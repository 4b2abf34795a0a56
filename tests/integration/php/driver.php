<?php
// Drives clients/php from a Node test: one JSON command per stdin line, one JSON result per stdout
// line, so one Hub object lives across steps (e.g. a timeout while the hub is stopped, then a
// publish on the same object once it is back).
//   {"do":"hub","name":"h","config":"ipc://..."|{...},"timeout_ms":1000}
//   {"do":"http","name":"x","urls":["http://..."],"key":"...","timeout_ms":1000}
//   {"do":"call","name":"h","method":"publish","args":["room:1",{"$raw":"{\"n\":1}"},null,"app"]}
//   {"do":"token","args":[...]}  -> Token::issue(...)
// A {"$raw": "<json>"} argument becomes a Webim\RawJson; {"$object": {}} an empty stdClass.
// Replies: {"ok":true,"result":...,"ms":N} or {"ok":false,"class":"Webim\\TimeoutException",
// "code":"timeout","cid":...,"msg":"...","ms":N}.
declare(strict_types=1);

require __DIR__ . '/../../../clients/php/autoload.php';

use Webim\{Hub, HubException, HttpApi, RawJson, TimeoutException, Token};

$objects = [];
function arg(mixed $v): mixed
{
    if (is_array($v) && array_key_exists('$raw', $v)) {
        return new RawJson($v['$raw']);
    }
    if (is_array($v) && array_key_exists('$object', $v)) {
        return (object) $v['$object'];
    }
    return $v;
}
while (($line = fgets(STDIN)) !== false) {
    $cmd = json_decode($line, true, 512, JSON_BIGINT_AS_STRING);
    $t = hrtime(true);
    try {
        $result = match ($cmd['do']) {
            'hub' => ($objects[$cmd['name']] = new Hub($cmd['config'], $cmd['timeout_ms'] ?? 3000)) ? null : null,
            'http' => ($objects[$cmd['name']] = new HttpApi($cmd['urls'], $cmd['key'], $cmd['timeout_ms'] ?? 3000)) ? null : null,
            'call' => $objects[$cmd['name']]->{$cmd['method']}(...array_map('arg', $cmd['args'] ?? [])),
            'token' => Token::issue(...$cmd['args']),
        };
        $out = ['ok' => true, 'result' => $result];
    } catch (Throwable $e) {
        $out = ['ok' => false, 'class' => get_class($e), 'msg' => $e->getMessage()];
        if ($e instanceof HubException) {
            $out['code'] = $e->errorCode;
        }
        if ($e instanceof TimeoutException) {
            $out['cid'] = $e->cid;
        }
    }
    $out['ms'] = (int) round((hrtime(true) - $t) / 1e6);
    if (isset($objects[$cmd['name'] ?? '']) && $objects[$cmd['name']] instanceof Hub) {
        $out['resets'] = $objects[$cmd['name']]->resets();
    }
    echo json_encode($out, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_PARTIAL_OUTPUT_ON_ERROR), "\n";
}
