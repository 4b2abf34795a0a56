<?php
declare(strict_types=1);

namespace Webim;

/**
 * Builds the JSON request bodies of docs/protocol.md section 4, shared by {@see Hub} (one ZeroMQ frame)
 * and {@see HttpApi} (one POST body), and decodes replies. Public so apps and tests can see exactly
 * what goes on the wire.
 */
final class Request
{
    /** json_encode() flags for everything this library encodes. */
    public const JSON_FLAGS = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR;

    private function __construct()
    {
    }

    /** A fresh client message id: "php-" + 24 hex digits (96 random bits). */
    public static function newCid(): string
    {
        return 'php-' . bin2hex(random_bytes(12));
    }

    /** `data` as JSON text: a RawJson verbatim, anything else through json_encode(). */
    public static function encodeData(mixed $data): string
    {
        if ($data instanceof RawJson) {
            return $data->json;
        }
        try {
            return json_encode($data, self::JSON_FLAGS);
        } catch (\JsonException $e) {
            throw new \InvalidArgumentException('data cannot be encoded as JSON: ' . $e->getMessage(), 0, $e);
        }
    }

    public static function publish(string $channel, mixed $data, string $cid, string $from = 'system'): string
    {
        $head = json_encode(['op' => 'pub', 'ch' => $channel, 'from' => $from, 'cid' => $cid], self::JSON_FLAGS);
        // `data` goes last, spliced in as text so a RawJson is never re-encoded.
        return substr($head, 0, -1) . ',"data":' . self::encodeData($data) . '}';
    }

    /** An edit of message $seq of $channel (the app may edit any author's message). */
    public static function edit(string $channel, int $seq, mixed $data, string $cid, string $from = 'system'): string
    {
        $head = json_encode(['op' => 'edit', 'ch' => $channel, 'seq' => $seq, 'from' => $from, 'cid' => $cid], self::JSON_FLAGS);
        return substr($head, 0, -1) . ',"data":' . self::encodeData($data) . '}';
    }

    /** A delete of message $seq of $channel: the hub removes its data from the store. */
    public static function delete(string $channel, int $seq, string $cid, string $from = 'system'): string
    {
        return json_encode(['op' => 'delete', 'ch' => $channel, 'seq' => $seq, 'from' => $from, 'cid' => $cid], self::JSON_FLAGS);
    }

    public static function history(string $channel, ?int $before = null, ?int $after = null, int $limit = 50): string
    {
        $request = ['op' => 'hist', 'ch' => $channel];
        if ($before !== null) {
            $request['before'] = $before;
        }
        if ($after !== null) {
            $request['after'] = $after;
        }
        $request['limit'] = $limit;
        return json_encode($request, self::JSON_FLAGS);
    }

    public static function kick(string $userId, int $code = 4003, string $reason = ''): string
    {
        return json_encode(['op' => 'kick', 'user' => $userId, 'code' => $code, 'reason' => $reason], self::JSON_FLAGS);
    }

    /** @param string[] $users */
    public static function online(array $users): string
    {
        return json_encode(['op' => 'online', 'users' => array_values($users)], self::JSON_FLAGS);
    }

    /** Who is in a presence channel: one page of user ids after $after (empty: from the first). */
    public static function presence(string $channel, string $after = '', int $limit = 100): string
    {
        $request = ['op' => 'presence', 'ch' => $channel];
        if ($after !== '') {
            $request['after'] = $after;
        }
        $request['limit'] = $limit;
        return json_encode($request, self::JSON_FLAGS);
    }

    /** A presence channel's live connections and unique users. */
    public static function presenceStats(string $channel): string
    {
        return json_encode(['op' => 'presence_stats', 'ch' => $channel], self::JSON_FLAGS);
    }

    /** Starts (or reports) the job erasing every message of $userId on one hub. */
    public static function eraseUser(string $userId): string
    {
        return json_encode(['op' => 'erase_user', 'user' => $userId], self::JSON_FLAGS);
    }

    public static function eraseStatus(string $userId): string
    {
        return json_encode(['op' => 'erase_status', 'user' => $userId], self::JSON_FLAGS);
    }

    public static function stats(): string
    {
        return '{"op":"stats"}';
    }

    /** Marks $channel read up to $seq for $userId (read cursors: monotonic, clamped to the last seq). */
    public static function read(string $userId, string $channel, int $seq): string
    {
        return json_encode(['op' => 'read', 'user' => $userId, 'ch' => $channel, 'seq' => $seq], self::JSON_FLAGS);
    }

    /** @param list<string> $channels 1..500 channel names */
    public static function unread(string $userId, array $channels): string
    {
        return json_encode(['op' => 'unread', 'user' => $userId, 'chs' => array_values($channels)], self::JSON_FLAGS);
    }

    /**
     * One page of $userId's conversations (docs/protocol.md "Conversations"), most recent first:
     * $limit (1..100) items below $before (['ts' => int, 'ch' => string]: the previous page's last).
     *
     * @param array{ts: int, ch: string}|null $before
     */
    public static function conversations(string $userId, int $limit = 50, ?array $before = null): string
    {
        $request = ['op' => 'conversations', 'user' => $userId, 'limit' => $limit];
        if ($before !== null) {
            $request['before'] = ['ts' => (int) ($before['ts'] ?? 0), 'ch' => (string) ($before['ch'] ?? '')];
        }
        return json_encode($request, self::JSON_FLAGS);
    }

    /**
     * Decodes a reply `{"ok":true,...}` into an array without `ok`; throws HubException for
     * `{"ok":false,"code":...,"msg":...}` and for anything that is not a reply object. Integers
     * that do not fit PHP's int (e.g. in history `data`) come back as strings, never as floats.
     *
     * @return array<string, mixed>
     */
    public static function decodeReply(string $reply): array
    {
        try {
            $decoded = json_decode($reply, true, 512, JSON_BIGINT_AS_STRING | JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new HubException('bad_reply', 'reply is not JSON: ' . substr($reply, 0, 200), $e);
        }
        if (!\is_array($decoded) || !\array_key_exists('ok', $decoded)) {
            throw new HubException('bad_reply', 'reply is not a webim reply object: ' . substr($reply, 0, 200));
        }
        if ($decoded['ok'] !== true) {
            $code = \is_string($decoded['code'] ?? null) && $decoded['code'] !== '' ? $decoded['code'] : 'unavailable';
            throw new HubException($code, \is_string($decoded['msg'] ?? null) ? $decoded['msg'] : '');
        }
        unset($decoded['ok']);
        return $decoded;
    }
}
