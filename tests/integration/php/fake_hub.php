<?php
// A stand-in hub for the PHP unit tests: a ROUTER on the given endpoint answering the app-ingress
// JSON protocol just enough to exercise Webim\Hub's timeout, resend and CURVE paths.
//   php fake_hub.php ENDPOINT LOG [--drop N] [--unavailable N] [--curve-secret Z85]
// --drop N: ignore the first N requests (no reply); --unavailable N: answer the next N
// {"ok":false,"code":"unavailable"}; --answers FILE: a JSON object whose "conversations" is the
// reply to every conversations request and whose "unread" ({unread, read, peer_read}) is answered
// for the channels asked only. Each request received is appended to LOG as one line.
// Prints "ready" once bound; exits on {"op":"quit"}.
declare(strict_types=1);

[$endpoint, $log] = [$argv[1], $argv[2]];
$opts = ['--drop' => 0, '--unavailable' => 0, '--curve-secret' => null, '--answers' => null];
for ($i = 3; $i + 1 < $argc; $i += 2) {
    $opts[$argv[$i]] = $argv[$i + 1];
}
$context = new ZMQContext(1, false);
$router = $context->getSocket(ZMQ::SOCKET_ROUTER);
$router->setSockOpt(ZMQ::SOCKOPT_LINGER, 0);
if ($opts['--curve-secret'] !== null) {
    $router->setSockOpt(ZMQ::SOCKOPT_CURVE_SERVER, 1);
    $router->setSockOpt(ZMQ::SOCKOPT_CURVE_SECRETKEY, $opts['--curve-secret']);
}
$router->bind($endpoint);
fwrite(STDOUT, "ready\n");
$drop = (int) $opts['--drop'];
$unavailable = (int) $opts['--unavailable'];
$answers = $opts['--answers'] === null ? [] : json_decode(file_get_contents($opts['--answers']), true);
$seqByCid = [];
$seq = 0;
while (true) {
    $frames = $router->recvMulti();
    $body = array_pop($frames);
    file_put_contents($log, $body . "\n", FILE_APPEND);
    $request = json_decode($body, true);
    if (($request['op'] ?? null) === 'quit') {
        $router->sendMulti([...$frames, '{"ok":true}']);
        break;
    }
    if ($drop > 0) {
        --$drop;
        continue;
    }
    if ($unavailable > 0) {
        --$unavailable;
        $router->sendMulti([...$frames, '{"ok":false,"code":"unavailable","msg":"fake: try again"}']);
        continue;
    }
    $reply = match ($request['op'] ?? null) {
        'pub' => ['ok' => true, 'epoch' => '00000000000000aa', 'seq' => $seqByCid[$request['cid']] ??= ++$seq],
        'stats' => ['ok' => true, 'published' => $seq],
        'conversations' => ['ok' => true, ...($answers['conversations'] ?? ['items' => [], 'more' => false])],
        'unread' => ['ok' => true, ...array_map(
            fn (array $counts) => array_intersect_key($counts, array_flip($request['chs'] ?? [])),
            $answers['unread'] ?? ['unread' => [], 'read' => [], 'peer_read' => []],
        )],
        default => ['ok' => false, 'code' => 'bad_request', 'msg' => 'fake: unknown op'],
    };
    $router->sendMulti([...$frames, json_encode($reply)]);
}
