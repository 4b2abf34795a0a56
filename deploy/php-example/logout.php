<?php
// Logout (POST with the CSRF token): ends the PHP session. Connections the chat page opened stay
// authenticated until their token expires; a real app would also kick the user:
// (new Webim\Hub(...))->kick($user, 4003, 'logged out') closes them on every frontend.
declare(strict_types=1);
require __DIR__ . '/app.php';

if ($_SERVER['REQUEST_METHOD'] !== 'POST') {
    redirect('index.php');
}
check_csrf();
$_SESSION = [];
$params = session_get_cookie_params();
setcookie(session_name(), '', ['expires' => 1, 'path' => $params['path'], 'httponly' => true, 'samesite' => 'Lax']);
session_destroy();
redirect('index.php');
