<?php
// Serves the browser client (clients/js/webim.js, or WEBIM_JS_FILE) from this site's origin. The
// page cannot import it from the frontend directly: module scripts are fetched with CORS, and the
// frontend's static files carry no Access-Control-Allow-Origin header. A real app would ship
// webim.js with its own assets instead.
declare(strict_types=1);
$config = require __DIR__ . '/config.php';

$file = $config['js_file'];
$mtime = @filemtime($file);
if ($mtime === false) {
    http_response_code(404);
    header('Content-Type: text/plain; charset=utf-8');
    echo "webim.js not found at $file (set WEBIM_JS_FILE)\n";
    exit;
}
$etag = '"' . dechex($mtime) . '-' . dechex((int) filesize($file)) . '"';
header('Content-Type: text/javascript; charset=utf-8');
header('Cache-Control: no-cache');
header("ETag: $etag");
header('X-Content-Type-Options: nosniff');
if (($_SERVER['HTTP_IF_NONE_MATCH'] ?? '') === $etag) {
    http_response_code(304);
    exit;
}
readfile($file);
