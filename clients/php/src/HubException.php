<?php
declare(strict_types=1);

namespace Webim;

/**
 * The hub (or a frontend's HTTP API) refused a request, or could not be reached.
 *
 * `errorCode` is the protocol's error code: bad_request, forbidden, not_found, too_large,
 * rate_limited, unavailable, wrong_shard (docs/protocol.md section 1), or "timeout" for
 * {@see TimeoutException}. `unavailable` and `timeout` mean "outcome unknown": retry the same
 * publish with the same cid (the hub stores it at most once).
 */
class HubException extends \RuntimeException
{
    public function __construct(
        public readonly string $errorCode,
        string $message = '',
        ?\Throwable $previous = null,
    ) {
        parent::__construct($message === '' ? $errorCode : "$errorCode: $message", 0, $previous);
    }

    public function getErrorCode(): string
    {
        return $this->errorCode;
    }

    /** True when the outcome is unknown and a retry with the same cid is the right move. */
    public function isRetryable(): bool
    {
        return $this->errorCode === 'unavailable' || $this->errorCode === 'timeout';
    }
}
