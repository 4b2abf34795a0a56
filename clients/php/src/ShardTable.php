<?php
declare(strict_types=1);

namespace Webim;

/**
 * Channel -> slot -> hub (docs/protocol.md section 4): slot = crc32(channel) % 1024 (zlib's CRC-32,
 * PHP's crc32()), and a table assigns every slot to exactly one hub:
 *
 *     {"slots": 1024,
 *      "shards": [{"name": "hub0", "slots": "0-511",    "app_ingress": "tcp://10.0.0.1:5560"},
 *                 {"name": "hub1", "slots": "512-1023", "app_ingress": "tcp://10.0.0.2:5560"}]}
 *
 * `slots` of a shard: "A-B" (inclusive), "N", a comma-separated list of those, or a JSON array of
 * those / of integers. Other keys of a shard (hub_ingress, hub_pub, ...) are kept and ignored here.
 * Optional `curve_server_key` (Z85, 40 chars): the hub's CURVE public key for its app ingress.
 */
final class ShardTable
{
    public const SLOTS = 1024;

    /** @var list<array<string, mixed>> */
    private array $shards = [];
    /** @var array<int, int> slot -> index into $shards */
    private array $owner = [];

    /** @param list<array<string, mixed>> $shards */
    private function __construct(array $shards)
    {
        if ($shards === []) {
            throw new \InvalidArgumentException('shard table: no shards');
        }
        $names = [];
        foreach (array_values($shards) as $i => $shard) {
            if (!\is_array($shard)) {
                throw new \InvalidArgumentException("shard table: shard #$i is not an object");
            }
            $name = $shard['name'] ?? "hub$i";
            if (!\is_string($name) || $name === '' || isset($names[$name])) {
                throw new \InvalidArgumentException("shard table: shard #$i needs a unique name");
            }
            $names[$name] = true;
            $shard['name'] = $name;
            if (!\is_string($shard['app_ingress'] ?? null) || !str_contains($shard['app_ingress'], '://')) {
                throw new \InvalidArgumentException("shard table: shard $name needs app_ingress (a ZeroMQ endpoint such as tcp://host:5560)");
            }
            if (isset($shard['curve_server_key']) && (!\is_string($shard['curve_server_key']) || \strlen($shard['curve_server_key']) !== 40)) {
                throw new \InvalidArgumentException("shard table: shard $name curve_server_key must be 40 Z85 characters");
            }
            foreach (self::parseSlots($shard['slots'] ?? null, $name) as $slot) {
                if (isset($this->owner[$slot])) {
                    $other = $this->owner[$slot] === $i ? $name : $this->shards[$this->owner[$slot]]['name'];
                    throw new \InvalidArgumentException("shard table: slot $slot is owned by both $other and $name");
                }
                $this->owner[$slot] = $i;
            }
            $this->shards[] = $shard;
        }
        if (\count($this->owner) !== self::SLOTS) {
            for ($slot = 0; isset($this->owner[$slot]); ++$slot) {
            }
            throw new \InvalidArgumentException("shard table: slot $slot has no owner (every slot 0-1023 needs exactly one)");
        }
    }

    /** One hub owning every slot. */
    public static function single(string $appIngress, string $name = 'hub0'): self
    {
        return new self([['name' => $name, 'slots' => '0-1023', 'app_ingress' => $appIngress]]);
    }

    /** @param array<string, mixed> $table the decoded JSON object */
    public static function fromArray(array $table): self
    {
        $slots = $table['slots'] ?? self::SLOTS;
        if ($slots !== self::SLOTS) {
            throw new \InvalidArgumentException('shard table: "slots" must be ' . self::SLOTS);
        }
        if (!\is_array($table['shards'] ?? null) || !array_is_list($table['shards'])) {
            throw new \InvalidArgumentException('shard table: "shards" must be an array');
        }
        return new self($table['shards']);
    }

    public static function fromJson(string $json): self
    {
        try {
            $table = json_decode($json, true, 64, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new \InvalidArgumentException('shard table: invalid JSON: ' . $e->getMessage(), 0, $e);
        }
        if (!\is_array($table)) {
            throw new \InvalidArgumentException('shard table: not a JSON object');
        }
        return self::fromArray($table);
    }

    public static function fromFile(string $path): self
    {
        $json = @file_get_contents($path);
        if ($json === false) {
            throw new \InvalidArgumentException("shard table: cannot read $path");
        }
        return self::fromJson($json);
    }

    /** crc32(channel) % 1024: the same on every hub, frontend and PHP process. */
    public static function slotOf(string $channel): int
    {
        return crc32($channel) % self::SLOTS; // crc32() is never negative on 64-bit PHP
    }

    /** @return array<string, mixed> the shard owning $channel (name, app_ingress, ...) */
    public function shardFor(string $channel): array
    {
        return $this->shards[$this->owner[self::slotOf($channel)]];
    }

    /** @return array<string, mixed> */
    public function shardOfSlot(int $slot): array
    {
        if (!isset($this->owner[$slot])) {
            throw new \InvalidArgumentException("slot $slot is outside 0-1023");
        }
        return $this->shards[$this->owner[$slot]];
    }

    /** @return list<array<string, mixed>> */
    public function shards(): array
    {
        return $this->shards;
    }

    /** @return list<int> */
    private static function parseSlots(mixed $spec, string $name): array
    {
        $parts = match (true) {
            \is_int($spec) => [$spec],
            \is_string($spec) => explode(',', $spec),
            \is_array($spec) && array_is_list($spec) => $spec,
            default => throw new \InvalidArgumentException("shard table: shard $name needs slots (\"0-511\", \"0-9,20-29\" or a list)"),
        };
        $slots = [];
        foreach ($parts as $part) {
            if (\is_int($part)) {
                [$from, $to] = [$part, $part];
            } elseif (\is_string($part) && preg_match('/^\s*(\d{1,4})\s*(?:-\s*(\d{1,4})\s*)?$/D', $part, $m)) {
                [$from, $to] = [(int) $m[1], (int) ($m[2] ?? $m[1])];
            } else {
                throw new \InvalidArgumentException("shard table: shard $name has an invalid slot range " . json_encode($part));
            }
            if ($from > $to || $from < 0 || $to >= self::SLOTS) {
                throw new \InvalidArgumentException("shard table: shard $name slot range $from-$to is outside 0-1023 or reversed");
            }
            for ($s = $from; $s <= $to; ++$s) {
                $slots[] = $s;
            }
        }
        return $slots;
    }
}
