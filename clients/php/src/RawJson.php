<?php
declare(strict_types=1);

namespace Webim;

/**
 * A JSON text passed to publish() as `data` byte for byte, instead of json_encode()-ing a PHP
 * value: big integers (beyond 2^53 or PHP_INT_MAX), exact number formats and key order survive.
 *
 *     $hub->publish('room:1', new RawJson('{"id":1234567890123456789012345}'));
 */
final class RawJson implements \Stringable
{
    public readonly string $json;

    /** @throws \InvalidArgumentException when $json is not one valid JSON value */
    public function __construct(string $json)
    {
        $json = trim($json, " \t\n\r");
        if (!self::isValid($json)) {
            throw new \InvalidArgumentException('RawJson: not a valid JSON value');
        }
        $this->json = $json;
    }

    public static function isValid(string $json): bool
    {
        if ($json === '') {
            return false;
        }
        if (\function_exists('json_validate')) { // PHP >= 8.3
            return json_validate($json, 512);
        }
        json_decode($json, false, 512, JSON_BIGINT_AS_STRING);
        return json_last_error() === JSON_ERROR_NONE;
    }

    public function __toString(): string
    {
        return $this->json;
    }
}
