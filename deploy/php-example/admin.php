<?php
// Announcements: pushes {text, by} to pub:all through the hub's app ingress (Webim\Hub, ZeroMQ)
// and shows the seq the hub stored it as. Every logged-in user may announce here; a real app
// checks a role first.
//
// The form carries a cid (client message id) generated when it is rendered: the hub stores a
// (sender, cid) pair once, so sending the same form again (a retry after a timeout, a double click,
// a reload) returns the first seq instead of storing a second announcement.
declare(strict_types=1);
require __DIR__ . '/app.php';

const SENDER = 'admin';          // the `from` clients see
const CID_PATTERN = '/^[A-Za-z0-9_.:-]{1,64}$/D';

$user = require_login();
$text = '';
$cid = 'php-example-' . bin2hex(random_bytes(12));
$result = null;   // ['seq' => ..., 'epoch' => ...]
$error = null;    // [code, message]
$timedOut = false;

if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    check_csrf();
    session_write_close(); // the hub may take up to the timeout: do not block the user's other pages
    $text = trim(\is_string($_POST['text'] ?? null) ? $_POST['text'] : '');
    $sentCid = $_POST['cid'] ?? '';
    if (\is_string($sentCid) && preg_match(CID_PATTERN, $sentCid)) {
        $cid = $sentCid;
    }
    if (!preg_match('/^.{1,2000}$/Dsu', $text)) { // also rejects invalid UTF-8
        $error = ['bad_request', 'Write 1 to 2000 characters (UTF-8).'];
        http_response_code(400);
    } else {
        try {
            $hub = new Webim\Hub(config('app_ingress'), config('hub_timeout_ms'));
            $result = $hub->publish('pub:all', ['text' => $text, 'by' => $user], $cid, SENDER);
        } catch (Webim\TimeoutException $e) {
            $timedOut = true;
            $error = ['timeout', sprintf('The hub at %s did not answer within %d ms (is webim-broadcast running?). '
                . 'The announcement may or may not have been stored: sending this form again is safe, '
                . 'it carries the same cid (%s) and the hub stores it at most once.',
                config('app_ingress'), config('hub_timeout_ms'), $cid)];
            http_response_code(504);
        } catch (Webim\HubException $e) {
            $error = [$e->errorCode, "The hub refused the announcement ({$e->errorCode}): {$e->getMessage()}"];
            http_response_code($e->isRetryable() ? 503 : 502);
        } catch (LogicException | InvalidArgumentException $e) { // no php-zmq, bad WEBIM_APP_INGRESS
            $error = ['config', $e->getMessage()];
            http_response_code(500);
        }
    }
}

page_start('Announce', $user);
?>
<h2>Announce to everyone <small>pub:all</small></h2>
<?php if ($result !== null): ?>
  <p class="ok" id="result" data-seq="<?= (int) $result['seq'] ?>" data-epoch="<?= h((string) $result['epoch']) ?>">
    Stored as seq <b id="seq"><?= (int) $result['seq'] ?></b> of pub:all (epoch <?= h((string) $result['epoch']) ?>):
    every page subscribed to pub:all shows it now.</p>
<?php elseif ($error !== null): ?>
  <p class="error" id="error" data-code="<?= h($error[0]) ?>"><?= h($error[1]) ?></p>
<?php endif ?>
<form method="post" action="admin.php" class="card" id="announce">
  <?= csrf_field() ?>
  <?php if ($result === null && ($timedOut || $error !== null)): /* the same cid: a retry is stored once */ ?>
    <input type="hidden" name="cid" value="<?= h($cid) ?>">
  <?php else: /* a new announcement */ ?>
    <input type="hidden" name="cid" value="<?= h('php-example-' . bin2hex(random_bytes(12))) ?>">
  <?php endif ?>
  <label>Announcement
    <textarea name="text" rows="3" maxlength="2000" required><?= $result === null ? h($text) : '' ?></textarea>
  </label>
  <button type="submit"><?= $timedOut ? 'Send again (same cid)' : 'Announce' ?></button>
</form>
<p class="hint">Sent with <code>Webim\Hub::publish('pub:all', ['text' => …, 'by' => '<?= h($user) ?>'], $cid, '<?= SENDER ?>')</code>
  to the hub's app ingress <code><?= h(config('app_ingress')) ?></code>; the reply comes after durable storage.</p>
<?php
page_end();
