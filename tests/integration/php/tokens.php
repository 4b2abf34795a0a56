<?php
// Prints the tokens the token test needs, built in PHP: {"valid", "tampered", "expired", "none",
// "hs384", "short_ttl"} for user $argv[2], signed with the secret $argv[1].
declare(strict_types=1);

require __DIR__ . '/../../../clients/php/autoload.php';

use Webim\Token;

[$secret, $user] = [$argv[1], $argv[2]];
$b64 = [Token::class, 'base64UrlEncode'];
$valid = Token::issue($user, ['room:php', "user:$user"], ['room:php'], 3600, $secret);
[$h, $p, $s] = explode('.', $valid);

// The payload changed after signing (another user), the signature kept.
$claims = json_decode(Token::base64UrlDecode($p), true);
$claims['sub'] = 'admin';
$tampered = "$h." . $b64(json_encode($claims)) . ".$s";

// Correctly signed but expired an hour ago (well beyond the 30 s leeway).
$now = time();
$expired = Token::encode(['sub' => $user, 'exp' => $now - 3600, 'iat' => $now - 7200, 'ch' => ['room:php']], $secret);

// alg "none" with an empty signature, and with the HS256 signature of the same payload.
$noneHeader = $b64('{"alg":"none","typ":"JWT"}');
$none = "$noneHeader.$p.";
$noneSigned = "$noneHeader.$p." . $b64(hash_hmac('sha256', "$noneHeader.$p", $secret, true));

// HS384 with the right secret: a valid JWT, but only HS256 is accepted.
$h384 = $b64('{"alg":"HS384","typ":"JWT"}');
$hs384 = "$h384.$p." . $b64(hash_hmac('sha384', "$h384.$p", $secret, true));

echo json_encode([
    'valid' => $valid,
    'tampered' => $tampered,
    'expired' => $expired,
    'none' => $none,
    'none_signed' => $noneSigned,
    'hs384' => $hs384,
    'wrong_secret' => Token::issue($user, ['room:php'], [], 3600, str_repeat('w', 32)),
]), "\n";
