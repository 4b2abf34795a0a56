<?php
// The chat page: requires login, issues the user's webim token (Webim\Token::issue) and hands it
// to the browser client (webim.js), which connects straight to the frontends' WebSocket. The page
// shows the app's announcements (pub:all), one room and the user's inbox, and links to the full
// demo chat page served by the frontend (the token travels in the URL fragment, never to a server).
declare(strict_types=1);
require __DIR__ . '/app.php';

$user = require_login();
try {
    $token = issue_token($user);
} catch (RuntimeException | InvalidArgumentException $e) {
    fail_page(500, 'Cannot issue a chat token', $e->getMessage());
}
csrf_token();         // for the logout form, before the session is released
session_write_close(); // token.php may be called meanwhile: do not hold the session lock

$room = \is_string($_GET['room'] ?? null) && preg_match('/^[A-Za-z0-9_.-]{1,100}$/D', $_GET['room']) ? $_GET['room'] : 'lobby';
$pageConfig = [
    'user' => $user,
    'token' => $token,
    'wsUrls' => config('ws_urls'),
    'jsUrl' => config('js_url'),
    'tokenUrl' => 'token.php',
    'room' => "room:$room",
];
$json = json_encode($pageConfig, JSON_HEX_TAG | JSON_HEX_AMP | JSON_HEX_APOS | JSON_HEX_QUOT | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
$demoUrl = config('frontend_url') . '/#token=' . rawurlencode($token);

page_start('Chat', $user);
?>
<p class="status">Connection: <span id="state" class="state" data-state="idle">offline</span>
  <span id="state-detail" class="detail"></span></p>
<div class="grid">
  <section class="card" aria-live="polite">
    <h2>Announcements <small>pub:all</small></h2>
    <ol id="announcements" class="list"></ol>
    <p class="empty">None yet. <a href="admin.php">Send one</a>.</p>
  </section>
  <section class="card room" aria-live="polite">
    <h2># <?= h($room) ?> <small>room:<?= h($room) ?></small></h2>
    <ol id="messages" class="list"></ol>
    <p class="empty">No messages yet.</p>
    <form id="composer" class="inline-form">
      <input name="text" placeholder="Message" autocomplete="off" maxlength="4000" aria-label="Message" required>
      <button type="submit">Send</button>
    </form>
  </section>
  <section class="card" aria-live="polite">
    <h2>Inbox <small>user:<?= h($user) ?></small></h2>
    <ol id="inbox" class="list"></ol>
    <p class="empty">Pushes from the app to you land here.</p>
  </section>
</div>
<p class="hint">Other rooms: <code>chat.php?room=NAME</code>. Rooms, direct messages and history scroll-back:
  <a id="demo-link" href="<?= h($demoUrl) ?>" target="_blank" rel="noopener noreferrer">the full demo chat</a>
  (served by the frontend at <?= h(config('frontend_url')) ?>).</p>
<script type="application/json" id="webim-config"><?= $json ?></script>
<script type="module" src="chat.js"></script>
<?php
page_end();
