<?php
// Router script for `php -S 127.0.0.1:PORT http_stub.php`: a stand-in for a frontend's /api/*.
// Appends {"method","path","auth","type","accept","body"} to $WEBIM_STUB_LOG and answers by channel:
//   "bad:*" -> 400 {"ok":false,"code":"bad_request"}, "slow:*" -> sleeps 2 s, "html:*" -> 502 HTML,
//   "down:*" -> 503 {"ok":false,"code":"unavailable"}; a wrong key -> 401 (plain text);
//   otherwise {"ok":true,...} like the hub.
declare(strict_types=1);

$body = file_get_contents('php://input');
$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
file_put_contents((string) getenv('WEBIM_STUB_LOG'), json_encode([
    'method' => $_SERVER['REQUEST_METHOD'],
    'path' => $path,
    'auth' => $_SERVER['HTTP_AUTHORIZATION'] ?? null,
    'type' => $_SERVER['CONTENT_TYPE'] ?? null,
    'accept' => $_SERVER['HTTP_ACCEPT'] ?? null,
    'body' => $body,
], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE) . "\n", FILE_APPEND | LOCK_EX);

header('Content-Type: application/json');
if (($_SERVER['HTTP_AUTHORIZATION'] ?? '') !== 'Bearer ' . getenv('WEBIM_STUB_KEY')) {
    http_response_code(401);
    header('Content-Type: text/plain');
    echo "unauthorized\n";
    return;
}
$request = json_decode($body, true);
$ch = (string) ($request['ch'] ?? '');
if (str_starts_with($ch, 'bad:')) {
    http_response_code(400);
    echo '{"ok":false,"code":"bad_request","msg":"stub: bad channel"}';
} elseif (str_starts_with($ch, 'slow:')) {
    sleep(2);
    echo '{"ok":true,"epoch":"0000000000000001","seq":1}';
} elseif (str_starts_with($ch, 'html:')) {
    http_response_code(502);
    header('Content-Type: text/html');
    echo '<html>bad gateway</html>';
} elseif (str_starts_with($ch, 'down:')) {
    http_response_code(503);
    echo '{"ok":false,"code":"unavailable","msg":"stub: hub down"}';
} else {
    echo match ([$path, $request['op'] ?? null]) {
        ['/api/publish', 'pub'] => '{"ok":true,"epoch":"00000000000000ab","seq":' . (strlen($body) % 100 + 1) . '}',
        ['/api/hist', 'hist'] => '{"ok":true,"epoch":"00000000000000ab","msgs":[{"op":"msg","ch":"' . $ch . '","epoch":"00000000000000ab","seq":1,"from":"system","ts":1,"data":{"n":1234567890123456789012345}}],"more":false}',
        ['/api/kick', 'kick'] => '{"ok":true}',
        ['/api/conversations', 'conversations'] => '{"ok":true,"items":[{"ch":"dm:a:b","ts":20,"seq":5,"unread":2,"read":3,"peer_read":5}],"more":true}',
        default => (function () { http_response_code(404); return '{"ok":false,"code":"not_found","msg":"stub: no such path"}'; })(),
    };
}
