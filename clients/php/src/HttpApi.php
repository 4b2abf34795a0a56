<?php
declare(strict_types=1);

namespace Webim;

/**
 * The same calls as {@see Hub} over a frontend's HTTP API (docs/protocol.md section 4), for apps
 * without php-zmq: POST /api/publish, /api/hist, /api/kick with the same JSON bodies and replies
 * and `Authorization: Bearer <api key>`. Any frontend serves any channel; give several base URLs
 * and a call that cannot reach one (connection failure, timeout, 502/503/504, `unavailable`) is
 * resent to the next with the same body (same cid) until the timeout.
 *
 * The API is on each frontend's private listener (admin_listen, 127.0.0.1:9650 + instance by default).
 *
 *     $api = new HttpApi(['http://127.0.0.1:9650', 'http://127.0.0.1:9651'], getenv('WEBIM_API_KEY'));
 *     $api->publish('user:42', ['notice' => 'paid']);
 */
final class HttpApi
{
    private const MIN_RETRY_MS = 50;
    /** @var list<string> */
    private readonly array $baseUrls;
    private ?\CurlHandle $curl = null;
    private int $next = 0;

    /**
     * @param string|list<string> $baseUrls  e.g. "http://127.0.0.1:9650" (no trailing /api)
     * @param array<int, mixed>   $curlOptions extra CURLOPT_* (TLS CA, proxy, ...)
     */
    public function __construct(
        string|array $baseUrls,
        private readonly string $apiKey,
        private readonly int $timeoutMs = 3000,
        private readonly array $curlOptions = [],
    ) {
        if (!\extension_loaded('curl')) {
            throw new \LogicException('Webim\HttpApi needs the curl extension (Debian: apt-get install php-curl)');
        }
        $urls = [];
        foreach ((array) $baseUrls as $url) {
            if (!\is_string($url) || !preg_match('#^https?://[^/]+#i', $url)) {
                throw new \InvalidArgumentException('HttpApi: base URLs look like http://host:port');
            }
            $urls[] = rtrim($url, '/');
        }
        if ($urls === []) {
            throw new \InvalidArgumentException('HttpApi: give at least one base URL');
        }
        if ($apiKey === '' || preg_match('/[\x00-\x20\x7f]/', $apiKey)) {
            throw new \InvalidArgumentException('HttpApi: the API key must be non-empty, without spaces or control characters');
        }
        if ($timeoutMs < 1) {
            throw new \InvalidArgumentException('HttpApi: timeout must be >= 1 ms');
        }
        $this->baseUrls = $urls;
    }

    /** @return array{epoch: string, seq: int} @see Hub::publish() */
    public function publish(string $channel, mixed $data, ?string $cid = null, string $from = 'system'): array
    {
        $cid ??= Request::newCid();
        $reply = $this->call('/api/publish', Request::publish($channel, $data, $cid, $from), $cid);
        return ['epoch' => $reply['epoch'], 'seq' => $reply['seq']];
    }

    /** @see Hub::edit() */
    public function edit(string $channel, int $seq, mixed $data, ?string $cid = null, string $from = 'system'): array
    {
        $cid ??= Request::newCid();
        $reply = $this->call('/api/edit', Request::edit($channel, $seq, $data, $cid, $from), $cid);
        return ['epoch' => $reply['epoch'], 'seq' => $reply['seq']];
    }

    /** @see Hub::delete() */
    public function delete(string $channel, int $seq, ?string $cid = null, string $from = 'system'): array
    {
        $cid ??= Request::newCid();
        $reply = $this->call('/api/delete', Request::delete($channel, $seq, $cid, $from), $cid);
        return ['epoch' => $reply['epoch'], 'seq' => $reply['seq']];
    }

    /**
     * POST /api/erase_user: starts the erase job on the one hub the frontend asks (without shards,
     * the only one; with shards use Hub::eraseUser(), which asks every hub).
     */
    public function eraseUser(string $userId): array
    {
        return $this->call('/api/erase_user', Request::eraseUser($userId));
    }

    /** POST /api/erase_status: ['user', 'state', 'erased', 'remaining'] of that hub. */
    public function eraseStatus(string $userId): array
    {
        return $this->call('/api/erase_status', Request::eraseStatus($userId));
    }

    /** @see Hub::history() */
    public function history(string $channel, ?int $before = null, ?int $after = null, int $limit = 50): array
    {
        return $this->call('/api/hist', Request::history($channel, $before, $after, $limit));
    }

    /** @see Hub::kick() */
    public function kick(string $userId, int $code = 4003, string $reason = ''): array
    {
        return $this->call('/api/kick', Request::kick($userId, $code, $reason));
    }

    /** @see Hub::read() */
    public function read(string $userId, string $channel, int $seq): int
    {
        return (int) $this->call('/api/read', Request::read($userId, $channel, $seq))['seq'];
    }

    /** @see Hub::unread() (the frontend asks each shard and merges) */
    public function unread(string $userId, array $channels): array
    {
        $reply = $this->call('/api/unread', Request::unread($userId, $channels));
        return ['unread' => $reply['unread'] ?? [], 'read' => $reply['read'] ?? [], 'peer_read' => $reply['peer_read'] ?? []];
    }

    /**
     * @see Hub::conversations() (the frontend asks the inbox's hub and the unread counts itself)
     * @param array{ts: int, ch: string}|null $before
     * @return array{items: list<array<string, mixed>>, more: bool}
     */
    public function conversations(string $userId, int $limit = 50, ?array $before = null): array
    {
        $reply = $this->call('/api/conversations', Request::conversations($userId, $limit, $before));
        return ['items' => $reply['items'] ?? [], 'more' => (bool) ($reply['more'] ?? false)];
    }

    /**
     * @param string[] $users
     * @return list<array<string, mixed>> @see Hub::online()
     */
    public function online(array $users): array
    {
        return $this->call('/api/online', Request::online($users))['users'];
    }

    /** @see Hub::presence() */
    public function presence(string $channel, string $after = '', int $limit = 100): array
    {
        return $this->call('/api/presence', Request::presence($channel, $after, $limit));
    }

    /** @see Hub::presenceStats() */
    public function presenceStats(string $channel): array
    {
        return $this->call('/api/presence_stats', Request::presenceStats($channel));
    }

    /** POSTs one JSON body to $path (e.g. "/api/publish") and returns the decoded reply. */
    public function request(string $path, string $json): array
    {
        return $this->call($path, $json);
    }

    private function call(string $path, string $body, ?string $cid = null): array
    {
        $deadline = hrtime(true) + $this->timeoutMs * 1_000_000;
        $last = null;
        $backoffMs = 20;
        for ($attempt = 0; ; ++$attempt) {
            if ($attempt >= \count($this->baseUrls)) { // every URL tried once: pause before the next round
                $leftMs = intdiv($deadline - hrtime(true), 1_000_000);
                usleep(max(0, min($backoffMs, $leftMs)) * 1000);
                $backoffMs = min($backoffMs * 2, 500);
            }
            $leftMs = intdiv($deadline - hrtime(true), 1_000_000);
            // A retry is only worth starting with some time left; the first attempt always runs.
            if ($leftMs <= 0 || ($attempt > 0 && $leftMs < self::MIN_RETRY_MS)) {
                if ($last !== null && !$last instanceof TimeoutException) {
                    throw $last; // the last answer (e.g. unavailable) says more than "timeout"
                }
                throw new TimeoutException("no reply from the HTTP API within {$this->timeoutMs} ms"
                    . ($last ? ' (last: ' . $last->getMessage() . ')' : ''), $cid, $last);
            }
            $url = $this->baseUrls[$this->next % \count($this->baseUrls)] . $path;
            try {
                return $this->post($url, $body, $deadline);
            } catch (HubException $e) {
                if (!$e->isRetryable()) {
                    throw $e;
                }
                $last = $e;
                ++$this->next; // try the next frontend
            }
        }
    }

    private function post(string $url, string $body, int $deadline): array
    {
        $leftMs = max(1, intdiv($deadline - hrtime(true), 1_000_000));
        $curl = $this->curl ??= curl_init();
        curl_reset($curl);
        $options = [
            CURLOPT_URL => $url,
            CURLOPT_POST => true,
            CURLOPT_POSTFIELDS => $body,
            CURLOPT_HTTPHEADER => [
                'Content-Type: application/json',
                'Accept: application/json',
                'Authorization: Bearer ' . $this->apiKey,
                'Expect:',
            ],
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_NOSIGNAL => true,
            CURLOPT_TIMEOUT_MS => $leftMs,
            CURLOPT_CONNECTTIMEOUT_MS => min($leftMs, 1000),
        ] + $this->curlOptions;
        curl_setopt_array($curl, $options);
        $response = curl_exec($curl);
        if ($response === false) {
            $errno = curl_errno($curl);
            $error = curl_error($curl);
            if ($errno === CURLE_OPERATION_TIMEDOUT) {
                throw new TimeoutException("$url: $error");
            }
            throw new HubException('unavailable', "$url: $error");
        }
        $status = (int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE);
        try {
            $reply = Request::decodeReply($response);
        } catch (HubException $e) {
            if ($e->errorCode !== 'bad_reply') {
                throw $e; // the frontend's {"ok":false,"code":...}
            }
            if ($status >= 200 && $status < 300) {
                throw $e;
            }
            throw new HubException(self::codeForStatus($status), "$url: HTTP $status " . substr(trim($response), 0, 200));
        }
        return $reply;
    }

    private static function codeForStatus(int $status): string
    {
        return match (true) {
            $status === 400 => 'bad_request',
            $status === 401, $status === 403 => 'forbidden',
            $status === 404 => 'not_found',
            $status === 413 => 'too_large',
            $status === 429 => 'rate_limited',
            default => 'unavailable', // 5xx, proxies' error pages
        };
    }
}
