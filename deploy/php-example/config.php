<?php
// Settings of the example app, from environment variables. The defaults match scripts/run
// (repository checkout, one hub on the default app ingress, frontends on port 8080).
//
//   WEBIM_SECRET_FILE     token secret file, the frontends' --secret-file (default <repo>/var/secret);
//                         the first non-empty line that is not a #comment signs (rotation: new first)
//   WEBIM_APP_INGRESS     the hub's app ingress, tcp:// or ipc://, or the path of a shard table JSON
//                         file (several hubs) (default ipc://<repo>/var/run/app.sock, scripts/run's
//                         socket; deploy/: ipc:///run/webim/app.sock, for the group webim-app)
//   WEBIM_FRONTEND_URL    the frontends' public base URL as browsers reach it (default http://localhost:8080)
//   WEBIM_WS_URL          the WebSocket URL(s) for the browser, comma-separated
//                         (default: WEBIM_FRONTEND_URL with ws(s):// and /ws)
//   WEBIM_HUB_TIMEOUT_MS  how long admin.php waits for the hub (default 3000)
//   WEBIM_TOKEN_TTL       token lifetime in seconds (default 3600)
//   WEBIM_PHP_LIB         the PHP library's autoloader (default <repo>/clients/php/autoload.php)
//   WEBIM_JS_FILE         webim.js, served to the page by webim-js.php (default <repo>/clients/js/webim.js)
//   WEBIM_JS_URL          import the client from this URL instead of webim-js.php (it must send CORS
//                         headers when it is on another origin: module scripts are fetched with CORS)
declare(strict_types=1);

return (static function (): array {
    $repo = \dirname(__DIR__, 2);
    $env = static function (string $name, string $default): string {
        $value = getenv($name);
        return $value === false || trim($value) === '' ? $default : trim($value);
    };
    $frontendUrl = rtrim($env('WEBIM_FRONTEND_URL', 'http://localhost:8080'), '/');
    $defaultWs = preg_replace('#^http#i', 'ws', $frontendUrl) . '/ws';
    return [
        'secret_file' => $env('WEBIM_SECRET_FILE', "$repo/var/secret"),
        'app_ingress' => $env('WEBIM_APP_INGRESS', "ipc://$repo/var/run/app.sock"),
        'frontend_url' => $frontendUrl,
        'ws_urls' => array_values(array_filter(array_map('trim', explode(',', $env('WEBIM_WS_URL', $defaultWs))))),
        'hub_timeout_ms' => max(1, (int) $env('WEBIM_HUB_TIMEOUT_MS', '3000')),
        'token_ttl' => max(60, (int) $env('WEBIM_TOKEN_TTL', '3600')),
        'php_lib' => $env('WEBIM_PHP_LIB', "$repo/clients/php/autoload.php"),
        'js_file' => $env('WEBIM_JS_FILE', "$repo/clients/js/webim.js"),
        'js_url' => $env('WEBIM_JS_URL', 'webim-js.php'),
    ];
})();
