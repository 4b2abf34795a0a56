<?php
// Login: any user name (no password: this example trusts whoever types a name). On POST the name
// goes into the PHP session and the browser is redirected to the chat page.
declare(strict_types=1);
require __DIR__ . '/app.php';

$error = null;
$name = '';
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    check_csrf();
    $name = trim(\is_string($_POST['name'] ?? null) ? $_POST['name'] : '');
    if (preg_match(USER_PATTERN, $name)) {
        session_regenerate_id(true); // a new session id at login (session fixation)
        $_SESSION['user'] = $name;
        redirect('chat.php');
    }
    $error = 'Use 1 to 60 letters, digits, "_", "." or "-" (the name becomes part of channel names).';
    http_response_code(400);
} elseif (current_user() !== null) {
    redirect('chat.php');
}

page_start('Log in');
?>
<h2>Log in</h2>
<p>Any name will do: this example has no passwords. The name becomes your webim user id.</p>
<form method="post" action="index.php" class="card" id="login">
  <?= csrf_field() ?>
  <label>User name
    <input name="name" value="<?= h($name) ?>" required maxlength="60" pattern="[A-Za-z0-9_.\-]{1,60}" autocomplete="username" autofocus>
  </label>
  <button type="submit">Log in</button>
  <?php if ($error !== null): ?><p class="error" id="error"><?= h($error) ?></p><?php endif ?>
</form>
<?php
page_end();
