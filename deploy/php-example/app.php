<?php
// Shared by the pages: configuration, the webim PHP library, the PHP session (who is logged in),
// CSRF tokens, token issuing and the page layout.
declare(strict_types=1);

if (realpath($_SERVER['SCRIPT_FILENAME'] ?? '') === __FILE__) { // not a page of its own
    http_response_code(404);
    exit;
}

/** User names: they become channel names (user:<name>, dm:<a>:<b>), so no ':' and no spaces. */
const USER_PATTERN = '/^[A-Za-z0-9_.-]{1,60}$/D';

$GLOBALS['webim_config'] = require __DIR__ . '/config.php';

function config(string $key): mixed
{
    return $GLOBALS['webim_config'][$key];
}

if (!is_file(config('php_lib'))) {
    fail_page(500, 'webim PHP library not found', 'Cannot find ' . config('php_lib') . ' (set WEBIM_PHP_LIB).');
}
require_once config('php_lib');

session_name('webim_example');
session_set_cookie_params(['path' => '/', 'httponly' => true, 'samesite' => 'Lax']);
session_start();

function h(string $text): string
{
    return htmlspecialchars($text, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

function current_user(): ?string
{
    $user = $_SESSION['user'] ?? null;
    return \is_string($user) && preg_match(USER_PATTERN, $user) ? $user : null;
}

function redirect(string $to): never
{
    header("Location: $to", true, 303);
    exit;
}

/** The logged-in user, or a redirect to the login form. */
function require_login(): string
{
    return current_user() ?? redirect('index.php');
}

function csrf_token(): string
{
    return $_SESSION['csrf'] ??= bin2hex(random_bytes(16));
}

function csrf_field(): string
{
    return '<input type="hidden" name="csrf" value="' . h(csrf_token()) . '">';
}

function check_csrf(): void
{
    $sent = $_POST['csrf'] ?? '';
    if (!\is_string($sent) || !isset($_SESSION['csrf']) || !hash_equals($_SESSION['csrf'], $sent)) {
        fail_page(403, 'Form expired', 'The form was not sent by this session (CSRF check failed). Reload the page and try again.');
    }
}

/** The signing secret: the first line of the frontends' secret file, read the way they read it. */
function token_secret(): string
{
    $file = config('secret_file');
    $lines = @file($file, FILE_IGNORE_NEW_LINES);
    if ($lines === false) {
        throw new RuntimeException("cannot read the token secret file $file (start webim with scripts/run, or set WEBIM_SECRET_FILE to the frontends' --secret-file)");
    }
    foreach ($lines as $line) {
        $line = rtrim($line, "\r \t");
        if ($line !== '' && $line[0] !== '#') {
            return $line;
        }
    }
    throw new RuntimeException("the token secret file $file holds no secret");
}

/**
 * The browser's token. Grants (docs/protocol.md section 1): subscribe to every room, every pub:
 * broadcast (read-only for clients whatever the token says) and the own inbox; publish to rooms and
 * to inboxes (the chat page's DM notices). DMs (dm:<a>:<b>) need no grant.
 */
function issue_token(string $user): string
{
    return Webim\Token::issue($user, ['room:*', 'pub:*', 'user:' . $user], ['room:*', 'user:*'],
        config('token_ttl'), token_secret());
}

function page_start(string $title, ?string $user = null): void
{
    header('Content-Type: text/html; charset=utf-8');
    header('Cache-Control: no-store');
    header('X-Content-Type-Options: nosniff');
    header_remove('X-Powered-By');
    header('Referrer-Policy: no-referrer'); // links to the demo page carry the token in their fragment only
    $nav = '';
    if ($user !== null) {
        $nav = '<nav class="nav"><a href="chat.php">Chat</a> <a href="admin.php">Announce</a> '
            . '<span class="who">signed in as <b id="user">' . h($user) . '</b></span> '
            . '<form method="post" action="logout.php" class="logout">' . csrf_field()
            . '<button type="submit">Log out</button></form></nav>';
    }
    echo '<!doctype html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<title>', h($title), ' · webim PHP example</title><link rel="icon" href="data:,">',
        '<link rel="stylesheet" href="style.css"></head><body>',
        '<header class="top"><h1>webim PHP example</h1>', $nav, '</header><main class="page">';
}

function page_end(): void
{
    echo '</main></body></html>';
}

function fail_page(int $status, string $title, string $message): never
{
    http_response_code($status);
    page_start($title, \function_exists('current_user') && session_status() === PHP_SESSION_ACTIVE ? current_user() : null);
    echo '<h2>', h($title), '</h2><p class="error" id="error">', h($message), '</p>';
    page_end();
    exit;
}
