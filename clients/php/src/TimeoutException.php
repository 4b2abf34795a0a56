<?php
declare(strict_types=1);

namespace Webim;

/**
 * No reply within the timeout given to Hub/HttpApi. The request may or may not have been applied:
 * retry a publish with the same cid (the cid is in {@see $cid} when the library generated it).
 */
class TimeoutException extends HubException
{
    public function __construct(string $message = '', public readonly ?string $cid = null, ?\Throwable $previous = null)
    {
        parent::__construct('timeout', $message, $previous);
    }
}
