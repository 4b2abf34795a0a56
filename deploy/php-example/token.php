<?php
// A fresh token for the logged-in user (text/plain), for the JS client's getToken: it asks again
// before the token's exp and after a 4001 close, so a chat page stays connected past the TTL.
declare(strict_types=1);
require __DIR__ . '/app.php';

header('Content-Type: text/plain; charset=utf-8');
header('Cache-Control: no-store');
$user = current_user();
if ($user === null) {
    http_response_code(401);
    echo "not logged in\n";
    exit;
}
session_write_close(); // do not hold the session lock
try {
    echo issue_token($user);
} catch (RuntimeException $e) {
    http_response_code(500);
    echo $e->getMessage(), "\n";
}
