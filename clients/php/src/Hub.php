<?php
declare(strict_types=1);

namespace Webim;

/**
 * The PHP app's side of the broadcast hub (docs/protocol.md section 4): pushes, history, kicks and stats
 * over the hub's JSON app ingress with a ZeroMQ REQ socket (ext-zmq, Debian package php-zmq).
 *
 *     $hub = new Hub('tcp://127.0.0.1:5560');                 // one hub owning every slot
 *     $hub = new Hub('/etc/webim/shards.json');               // a shard table (see README.md)
 *     ['epoch' => $epoch, 'seq' => $seq] = $hub->publish('room:7', ['text' => 'hi']);
 *
 * Every call is bounded by the timeout given to the constructor: within it the library resends the
 * same request (same cid) on a fresh socket when a reply is late and after an `unavailable` answer;
 * at the deadline it throws TimeoutException. A REQ socket that lost its reply is stuck (it refuses
 * to send again), so it is discarded (LINGER 0) and the next call connects a new one.
 */
final class Hub
{
    private readonly ShardTable $table;
    private readonly \ZMQContext $context;
    /** @var array<string, \ZMQSocket> endpoint -> REQ socket awaiting its next request */
    private array $sockets = [];
    private const EINTR = 4; // errno on Linux, the BSDs and macOS
    private int $resets = 0;
    private ?string $curvePublicKey = null;
    private ?string $curveSecretKey = null;

    /**
     * @param array<mixed>|string $endpointsOrConfig
     *   - "tcp://127.0.0.1:5560" (or ipc://...): one hub owning every slot;
     *   - a path to a shard table JSON file;
     *   - a decoded shard table ['slots' => 1024, 'shards' => [...]], optionally with
     *     'curve_public_key' / 'curve_secret_key' (this client's Z85 CURVE key pair);
     *   - ['shard_table' => path, ...the same optional keys];
     *   - a list of endpoints: shard i of N owns the i-th contiguous N-th of the slots.
     * @param int $timeoutMs deadline of each call, retries included (>= 1)
     */
    public function __construct(array|string $endpointsOrConfig, private readonly int $timeoutMs = 3000)
    {
        if (!\extension_loaded('zmq')) {
            throw new \LogicException('Webim\Hub needs the zmq extension (Debian: apt-get install php-zmq); or use Webim\HttpApi');
        }
        if ($timeoutMs < 1) {
            throw new \InvalidArgumentException('Hub: timeout must be >= 1 ms');
        }
        $this->table = self::tableFrom($endpointsOrConfig);
        if (\is_array($endpointsOrConfig)) {
            $this->curvePublicKey = self::optionalKey($endpointsOrConfig, 'curve_public_key');
            $this->curveSecretKey = self::optionalKey($endpointsOrConfig, 'curve_secret_key');
        }
        foreach ($this->table->shards() as $shard) {
            if (isset($shard['curve_server_key']) && ($this->curvePublicKey === null || $this->curveSecretKey === null)) {
                throw new \InvalidArgumentException("Hub: shard {$shard['name']} needs CURVE: give curve_public_key and curve_secret_key");
            }
        }
        // Persistent: one context (one I/O thread) per PHP process, reused across requests under
        // php-fpm and terminated only when the process ends, after every socket is closed. (A
        // per-object context can be freed before its sockets at shutdown, and zmq_ctx_term then
        // waits for them forever.)
        $this->context = new \ZMQContext(1, true);
    }

    public function __destruct()
    {
        $this->sockets = []; // close (LINGER 0) before anything else goes
    }

    /**
     * Stores `data` in `channel` and delivers it to every subscriber; returns after durable storage.
     *
     * @param mixed       $data  any json_encode()-able value, or a RawJson sent byte for byte
     * @param string|null $cid   message id for idempotency; generated once per call when null, and
     *                           reused by this call's own retries. Pass your own (stored with your
     *                           job) to retry safely across processes: the hub stores it once.
     * @param string      $from  the sender shown to clients (`from`)
     * @return array{epoch: string, seq: int}
     * @throws HubException|TimeoutException
     */
    public function publish(string $channel, mixed $data, ?string $cid = null, string $from = 'system'): array
    {
        $cid ??= Request::newCid();
        $body = Request::publish($channel, $data, $cid, $from);
        $reply = $this->call($this->table->shardFor($channel), $body, $cid);
        return ['epoch' => $reply['epoch'], 'seq' => $reply['seq']];
    }

    /**
     * Edits message $seq of $channel (docs/protocol.md "Edit and delete"): a new entry of the channel,
     * retried with the same cid like a publish. HubException: not_found, bad_request (an edit or
     * delete entry), forbidden (the message is deleted).
     *
     * @return array{epoch: string, seq: int} the entry's position
     */
    public function edit(string $channel, int $seq, mixed $data, ?string $cid = null, string $from = 'system'): array
    {
        $cid ??= Request::newCid();
        $reply = $this->call($this->table->shardFor($channel), Request::edit($channel, $seq, $data, $cid, $from), $cid);
        return ['epoch' => $reply['epoch'], 'seq' => $reply['seq']];
    }

    /**
     * Deletes message $seq of $channel: a new entry, and the message's data is removed from the store.
     *
     * @return array{epoch: string, seq: int} the entry's position
     */
    public function delete(string $channel, int $seq, ?string $cid = null, string $from = 'system'): array
    {
        $cid ??= Request::newCid();
        $reply = $this->call($this->table->shardFor($channel), Request::delete($channel, $seq, $cid, $from), $cid);
        return ['epoch' => $reply['epoch'], 'seq' => $reply['seq']];
    }

    /**
     * A page of a channel's history, ascending by seq: `before` or `after` (exclusive), limit 1..200.
     *
     * @return array{epoch: string, msgs: list<array<string, mixed>>, more: bool}
     *   (plus whatever else the hub reports, e.g. `last`). Big integers in `data` come back as strings.
     */
    public function history(string $channel, ?int $before = null, ?int $after = null, int $limit = 50): array
    {
        return $this->call($this->table->shardFor($channel), Request::history($channel, $before, $after, $limit));
    }

    /**
     * Closes every connection of $userId on every frontend with close code $code (4000-4999).
     * Sent to the hub owning "user:<id>"; every hub reaches every frontend.
     */
    public function kick(string $userId, int $code = 4003, string $reason = ''): array
    {
        return $this->call($this->table->shardFor('user:' . $userId), Request::kick($userId, $code, $reason));
    }

    /**
     * Marks $channel read up to $seq for $userId, as the user's own `read` would (monotonic, clamped
     * to the channel's last seq; receipts to the dm peer and opted-in rooms; the user's devices are
     * told when their inbox is on the channel's shard). Returns the cursor now.
     */
    public function read(string $userId, string $channel, int $seq): int
    {
        return (int) $this->call($this->table->shardFor($channel), Request::read($userId, $channel, $seq))['seq'];
    }

    /**
     * Unread counts of $userId for up to 500 channels, with their read cursors and, for dm: channels,
     * the other participant's: one request per shard, merged.
     *
     * @param list<string> $channels
     * @return array{unread: array<string, int>, read: array<string, int>, peer_read: array<string, int>}
     */
    public function unread(string $userId, array $channels): array
    {
        $byShard = [];
        foreach ($channels as $channel) {
            $byShard[$this->table->shardFor($channel)['name']][] = $channel;
        }
        $out = ['unread' => [], 'read' => [], 'peer_read' => []];
        foreach ($this->table->shards() as $shard) {
            if (!isset($byShard[$shard['name']])) {
                continue;
            }
            $reply = $this->call($shard, Request::unread($userId, $byShard[$shard['name']]));
            foreach (['unread', 'read', 'peer_read'] as $key) {
                $out[$key] += $reply[$key] ?? [];
            }
        }
        return $out;
    }

    /**
     * One page of $userId's conversations (docs/protocol.md "Conversations"), most recent activity
     * first: the page from the hub owning "user:<id>" (the conversation index is kept beside the
     * inbox), then the unread counts of its channels from their own hubs (as unread() asks them),
     * merged into each item. Page on with $before = ['ts' => ..., 'ch' => ...] of the last item
     * while `more`.
     *
     * @param array{ts: int, ch: string}|null $before
     * @return array{items: list<array{ch: string, ts: int, seq: int, unread: int, read: int, peer_read?: int}>, more: bool}
     * @throws HubException|TimeoutException
     */
    public function conversations(string $userId, int $limit = 50, ?array $before = null): array
    {
        $page = $this->call($this->table->shardFor("user:{$userId}"), Request::conversations($userId, $limit, $before));
        $items = [];
        foreach ($page['items'] ?? [] as $item) {
            $items[] = ['ch' => (string) $item['ch'], 'ts' => (int) $item['ts'], 'seq' => (int) $item['seq']];
        }
        $counts = $items === [] ? ['unread' => [], 'read' => [], 'peer_read' => []]
            : $this->unread($userId, array_column($items, 'ch'));
        foreach ($items as &$item) {
            $ch = $item['ch'];
            $item['unread'] = (int) ($counts['unread'][$ch] ?? 0);
            $item['read'] = (int) ($counts['read'][$ch] ?? 0);
            if (str_starts_with($ch, 'dm:')) {
                $item['peer_read'] = (int) ($counts['peer_read'][$ch] ?? 0);
            }
        }
        unset($item);
        return ['items' => $items, 'more' => (bool) ($page['more'] ?? false)];
    }

    /**
     * Erases every message $userId wrote (account deletion; docs/protocol.md "Erasing a user"): starts
     * the background job on every hub (each erases its own channels) and returns at once.
     *
     * @return array<string, array<string, mixed>> per hub (shard name): ['user', 'state', 'erased']
     */
    public function eraseUser(string $userId): array
    {
        $out = [];
        foreach ($this->table->shards() as $shard) {
            $out[$shard['name']] = $this->call($shard, Request::eraseUser($userId));
        }
        return $out;
    }

    /**
     * User presence for up to 500 user ids: each asked of the hub owning "user:<id>" (one request
     * per shard), merged in the order given.
     *
     * @param string[] $users
     * @return list<array{user: string, online: bool, last_seen?: int|null, settling?: bool}>
     * @throws HubException|TimeoutException
     */
    public function online(array $users): array
    {
        $users = array_values($users);
        $byShard = [];
        foreach ($users as $i => $user) {
            $shard = $this->table->shardFor('user:' . $user);
            $byShard[$shard['name']]['shard'] = $shard;
            $byShard[$shard['name']]['at'][] = $i;
        }
        $out = [];
        foreach ($byShard as $group) {
            $asked = array_map(fn (int $i) => $users[$i], $group['at']);
            $reply = $this->call($group['shard'], Request::online($asked));
            foreach ($group['at'] as $k => $i) {
                $out[$i] = $reply['users'][$k];
            }
        }
        ksort($out);
        return array_values($out);
    }

    /**
     * Who is in a presence channel (presence_namespaces): ['ch' => ..., 'users' => [...], 'more' => bool],
     * user ids in byte order after $after; page on with the last id while 'more' is true.
     *
     * @return array<string, mixed>
     */
    public function presence(string $channel, string $after = '', int $limit = 100): array
    {
        return $this->call($this->table->shardFor($channel), Request::presence($channel, $after, $limit));
    }

    /** @return array<string, mixed> ['ch' => ..., 'connections' => int, 'users' => int] */
    public function presenceStats(string $channel): array
    {
        return $this->call($this->table->shardFor($channel), Request::presenceStats($channel));
    }

    /**
     * The erase job's progress on every hub: 'done' once every hub is done.
     *
     * @return array{state: string, erased: int, remaining: int, hubs: array<string, array<string, mixed>>}
     *   state: 'running' while any hub runs it, 'done' when all finished, 'none' when no hub knows it
     */
    public function eraseStatus(string $userId): array
    {
        $hubs = [];
        $erased = 0;
        $remaining = 0;
        $states = [];
        foreach ($this->table->shards() as $shard) {
            $r = $this->call($shard, Request::eraseStatus($userId));
            $hubs[$shard['name']] = $r;
            $erased += (int) $r['erased'];
            $remaining += (int) ($r['remaining'] ?? 0);
            $states[$r['state']] = true;
        }
        $state = isset($states['running']) ? 'running' : (isset($states['done']) ? 'done' : 'none');
        return ['state' => $state, 'erased' => $erased, 'remaining' => $remaining, 'hubs' => $hubs];
    }

    /** @return array<string, array<string, mixed>> counters per hub, keyed by shard name */
    public function stats(): array
    {
        $out = [];
        foreach ($this->table->shards() as $shard) {
            $out[$shard['name']] = $this->call($shard, Request::stats());
        }
        return $out;
    }

    /**
     * Sends one request object as given (JSON text) to the hub owning $routeChannel (the first
     * shard when null) and returns the decoded reply: for tools, and for ops this class lacks.
     */
    public function request(string $json, ?string $routeChannel = null): array
    {
        $shard = $routeChannel === null ? $this->table->shards()[0] : $this->table->shardFor($routeChannel);
        return $this->call($shard, $json);
    }

    public function shardTable(): ShardTable
    {
        return $this->table;
    }

    /** How many sockets were discarded because a reply did not come in time. */
    public function resets(): int
    {
        return $this->resets;
    }

    /** Closes every socket (they are reopened on demand). */
    public function close(): void
    {
        $this->sockets = [];
    }

    /** @param array<string, mixed> $shard */
    private function call(array $shard, string $body, ?string $cid = null): array
    {
        $start = hrtime(true);
        $deadline = $start + $this->timeoutMs * 1_000_000;
        // Resend on a fresh socket after a third of the budget (at least 250 ms) without a reply:
        // a hub that restarted lost the request; one that is merely slow answers the resend from
        // its dedup record (same cid), so publishing stays exactly-once.
        $attemptNs = max(250, intdiv($this->timeoutMs, 3)) * 1_000_000;
        $backoffMs = 20;
        while (true) {
            $now = hrtime(true);
            if ($now >= $deadline) {
                throw new TimeoutException(\sprintf(
                    'no reply from %s (%s) within %d ms',
                    $shard['name'],
                    $shard['app_ingress'],
                    $this->timeoutMs,
                ), $cid);
            }
            $reply = $this->roundTrip($shard, $body, min($deadline, $now + $attemptNs));
            if ($reply === null) {
                continue;
            }
            try {
                return Request::decodeReply($reply);
            } catch (HubException $e) {
                $remainingMs = intdiv($deadline - hrtime(true), 1_000_000);
                if ($e->errorCode !== 'unavailable' || $remainingMs <= $backoffMs) {
                    throw $e;
                }
                usleep($backoffMs * 1000);
                $backoffMs = min($backoffMs * 2, 500);
            }
        }
    }

    /** One request/reply on the shard's socket; null (and the socket discarded) at $until. */
    private function roundTrip(array $shard, string $body, int $until): ?string
    {
        $endpoint = $shard['app_ingress'];
        $socket = $this->sockets[$endpoint] ??= $this->connect($shard);
        if ($socket->send($body, \ZMQ::MODE_DONTWAIT) === false) { // no peer pipe yet: wait for one
            if (!$this->waitFor($socket, \ZMQ::POLL_OUT, $until) || $socket->send($body, \ZMQ::MODE_DONTWAIT) === false) {
                $this->discard($endpoint);
                return null;
            }
        }
        if ($this->waitFor($socket, \ZMQ::POLL_IN, $until)) {
            $reply = $socket->recv(\ZMQ::MODE_DONTWAIT);
            if (\is_string($reply)) {
                return $reply;
            }
        }
        $this->discard($endpoint);
        return null;
    }

    private function waitFor(\ZMQSocket $socket, int $event, int $until): bool
    {
        $poll = new \ZMQPoll();
        $poll->add($socket, $event);
        while (($leftMs = (int) ceil(($until - hrtime(true)) / 1_000_000)) > 0) {
            $readable = $writable = [];
            try {
                if ($poll->poll($readable, $writable, $leftMs) > 0) {
                    return true;
                }
            } catch (\ZMQPollException $e) {
                if ($e->getCode() !== self::EINTR) { // a signal: poll again for the rest
                    throw new HubException('unavailable', 'poll failed: ' . $e->getMessage(), $e);
                }
            }
        }
        return false;
    }

    private function discard(string $endpoint): void
    {
        unset($this->sockets[$endpoint]); // closed here; LINGER 0 drops what is still queued
        ++$this->resets;
    }

    /** @param array<string, mixed> $shard */
    private function connect(array $shard): \ZMQSocket
    {
        try {
            $socket = $this->context->getSocket(\ZMQ::SOCKET_REQ);
            $socket->setSockOpt(\ZMQ::SOCKOPT_LINGER, 0);
            if (isset($shard['curve_server_key'])) {
                $socket->setSockOpt(\ZMQ::SOCKOPT_CURVE_SERVERKEY, $shard['curve_server_key']);
                $socket->setSockOpt(\ZMQ::SOCKOPT_CURVE_PUBLICKEY, $this->curvePublicKey);
                $socket->setSockOpt(\ZMQ::SOCKOPT_CURVE_SECRETKEY, $this->curveSecretKey);
            }
            $socket->connect($shard['app_ingress']);
        } catch (\ZMQException $e) {
            throw new \InvalidArgumentException("Hub: cannot connect to {$shard['app_ingress']}: " . $e->getMessage(), 0, $e);
        }
        return $socket;
    }

    /** @param array<mixed>|string $config */
    private static function tableFrom(array|string $config): ShardTable
    {
        if (\is_string($config)) {
            return str_contains($config, '://') ? ShardTable::single($config) : ShardTable::fromFile($config);
        }
        if (isset($config['shards'])) {
            return ShardTable::fromArray($config);
        }
        if (\is_string($config['shard_table'] ?? null)) {
            return ShardTable::fromFile($config['shard_table']);
        }
        if (\is_string($config['app_ingress'] ?? null)) {
            return ShardTable::single($config['app_ingress']);
        }
        if ($config !== [] && array_is_list($config)) {
            $n = \count($config);
            $shards = [];
            foreach ($config as $i => $endpoint) {
                if (!\is_string($endpoint)) {
                    throw new \InvalidArgumentException('Hub: a list of endpoints must hold strings');
                }
                $from = intdiv($i * ShardTable::SLOTS, $n);
                $to = intdiv(($i + 1) * ShardTable::SLOTS, $n) - 1;
                $shards[] = ['name' => "hub$i", 'slots' => "$from-$to", 'app_ingress' => $endpoint];
            }
            return ShardTable::fromArray(['shards' => $shards]);
        }
        throw new \InvalidArgumentException('Hub: give an endpoint, a shard table (array or file) or a list of endpoints');
    }

    private static function optionalKey(array $config, string $key): ?string
    {
        if (!isset($config[$key])) {
            return null;
        }
        if (!\is_string($config[$key]) || \strlen($config[$key]) !== 40) {
            throw new \InvalidArgumentException("Hub: $key must be a 40-character Z85 key");
        }
        return $config[$key];
    }
}
