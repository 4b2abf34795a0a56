<?php
declare(strict_types=1);

namespace Webim;

/**
 * Browser tokens (docs/protocol.md section 3): JWT signed with HS256 and a shared secret of >= 32 bytes,
 * the same secret the frontends read from their --secret-file.
 *
 *     $jwt = Token::issue('42', ['room:7', 'user:42'], ['room:7'], 3600, $secret);
 */
final class Token
{
    public const MIN_SECRET_BYTES = 32;
    /** The frontend accepts this much clock skew; verify() uses the same. */
    public const LEEWAY_SECONDS = 30;
    /** The longest `sub` the frontend accepts. */
    public const MAX_USER_ID_BYTES = 128;

    /** An exact channel name, or a prefix ending in '*' ("room:*", or "*" for every channel). */
    private const PATTERN = '/^(?:[A-Za-z0-9_.:-]{1,128}|[A-Za-z0-9_.:-]{0,127}\*)$/D';

    private function __construct()
    {
    }

    /**
     * @param string   $userId    the `sub` claim: the user id the frontend puts in `from`
     * @param string[] $subscribe `ch`: channel patterns the user may subscribe to
     * @param string[] $publish   `pub`: patterns the user may publish to (always sent; [] = none)
     * @param int      $ttl       seconds until `exp` (>= 1)
     * @param string   $secret    the shared secret (>= 32 bytes)
     * @param int|null $now       Unix time for `iat` (default: time()); for tests
     * @param string[] $presence  `presence`: patterns of the user ids this user may ask `online` about
     * @param string[] $watch     `watch`: up to 1,000 user ids whose presence changes this user is told
     * @throws \InvalidArgumentException
     */
    public static function issue(
        string $userId,
        array $subscribe,
        array $publish,
        int $ttl,
        string $secret,
        ?int $now = null,
        array $presence = [],
        array $watch = [],
    ): string {
        if ($userId === '' || \strlen($userId) > self::MAX_USER_ID_BYTES || preg_match('/[\x00-\x1f\x7f]/', $userId)) {
            // The frontend refuses such tokens (close 4001): say so where the token is made.
            throw new \InvalidArgumentException('Token: user id must be 1..128 bytes without control characters');
        }
        if ($ttl < 1) {
            throw new \InvalidArgumentException('Token: ttl must be >= 1 second');
        }
        $now ??= time();
        $claims = [
            'sub' => $userId,
            'exp' => $now + $ttl,
            'iat' => $now,
            'ch' => self::patterns($subscribe, 'subscribe'),
            'pub' => self::patterns($publish, 'publish'),
        ];
        if ($presence !== []) {
            $claims['presence'] = self::patterns($presence, 'presence');
        }
        if ($watch !== []) {
            $claims['watch'] = self::watchList($watch);
        }
        return self::encode($claims, $secret);
    }

    /**
     * Signs arbitrary claims with HS256 (claims are encoded in the given order). issue() covers the
     * usual case; this is for extra claims such as `nbf`.
     *
     * @param array<string, mixed> $claims
     */
    public static function encode(array $claims, string $secret): string
    {
        self::checkSecret($secret);
        $header = self::base64UrlEncode('{"alg":"HS256","typ":"JWT"}');
        $payload = self::base64UrlEncode(json_encode($claims, Request::JSON_FLAGS));
        $signingInput = "$header.$payload";
        return $signingInput . '.' . self::base64UrlEncode(hash_hmac('sha256', $signingInput, $secret, true));
    }

    /**
     * Verifies a token the way the frontend does (HS256 only, `exp` required, `nbf` honoured, 30 s
     * leeway) and returns its claims. For the app's own tests and tools; the frontend is the judge.
     *
     * @param string|string[] $secrets one secret or several (rotation)
     * @return array<string, mixed>
     * @throws \InvalidArgumentException when the token is invalid or expired
     */
    public static function verify(string $token, string|array $secrets, ?int $now = null): array
    {
        $parts = explode('.', $token);
        if (\count($parts) !== 3) {
            throw new \InvalidArgumentException('Token: not three dot-separated parts');
        }
        [$h, $p, $s] = $parts;
        $header = json_decode(self::base64UrlDecode($h), true);
        if (!\is_array($header) || ($header['alg'] ?? null) !== 'HS256') {
            throw new \InvalidArgumentException('Token: alg must be HS256');
        }
        $signature = self::base64UrlDecode($s);
        $valid = false;
        foreach ((array) $secrets as $secret) {
            self::checkSecret($secret);
            $valid = $valid || hash_equals(hash_hmac('sha256', "$h.$p", $secret, true), $signature);
        }
        if (!$valid) {
            throw new \InvalidArgumentException('Token: bad signature');
        }
        $claims = json_decode(self::base64UrlDecode($p), true, 64, JSON_BIGINT_AS_STRING);
        if (!\is_array($claims) || !\is_string($claims['sub'] ?? null) || !\is_int($claims['exp'] ?? null)) {
            throw new \InvalidArgumentException('Token: sub (string) and exp (integer) are required');
        }
        $now ??= time();
        if ($claims['exp'] + self::LEEWAY_SECONDS <= $now) {
            throw new \InvalidArgumentException('Token: expired');
        }
        if (\is_int($claims['nbf'] ?? null) && $claims['nbf'] - self::LEEWAY_SECONDS > $now) {
            throw new \InvalidArgumentException('Token: not yet valid');
        }
        return $claims;
    }

    /** RFC 4648 section 5 base64url, without padding. */
    public static function base64UrlEncode(string $bytes): string
    {
        return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
    }

    /** Strict base64url decoding (padding optional); throws on any other character. */
    public static function base64UrlDecode(string $text): string
    {
        if (!preg_match('/^[A-Za-z0-9_-]*={0,2}$/D', $text) || \strlen(rtrim($text, '=')) % 4 === 1) {
            throw new \InvalidArgumentException('Token: invalid base64url');
        }
        $decoded = base64_decode(strtr($text, '-_', '+/'), true);
        if ($decoded === false) {
            throw new \InvalidArgumentException('Token: invalid base64url');
        }
        return $decoded;
    }

    private static function checkSecret(string $secret): void
    {
        if (\strlen($secret) < self::MIN_SECRET_BYTES) {
            throw new \InvalidArgumentException('Token: the secret must be at least ' . self::MIN_SECRET_BYTES . ' bytes');
        }
    }

    /** @return list<string> */
    private static function patterns(array $patterns, string $what): array
    {
        $out = [];
        foreach ($patterns as $pattern) {
            if (!\is_string($pattern) || !preg_match(self::PATTERN, $pattern)) {
                throw new \InvalidArgumentException("Token: invalid $what pattern " . json_encode($pattern));
            }
            $out[] = $pattern;
        }
        return $out;
    }

    /**
     * The `watch` claim as the frontend takes it: at most 1,000 user ids, each one whose inbox
     * "user:<id>" is a valid channel name (else the token is refused, close 4001).
     *
     * @param string[] $users
     * @return list<string>
     */
    private static function watchList(array $users): array
    {
        if (\count($users) > 1000) {
            throw new \InvalidArgumentException('Token: watch lists at most 1000 user ids');
        }
        $out = [];
        foreach ($users as $user) {
            if (!\is_string($user) || !preg_match('/^[A-Za-z0-9_.:-]{1,123}$/', $user)) {
                throw new \InvalidArgumentException('Token: invalid user id in watch');
            }
            $out[] = $user;
        }
        return $out;
    }
}
