<?php
// For apps without Composer: require __DIR__ . '/path/to/clients/php/autoload.php';
// (With Composer, add this directory as a "path" repository and require "webim/client".)
declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    if (!str_starts_with($class, 'Webim\\')) {
        return;
    }
    $file = __DIR__ . '/src/' . str_replace('\\', '/', substr($class, 6)) . '.php';
    if (is_file($file)) {
        require $file;
    }
});
