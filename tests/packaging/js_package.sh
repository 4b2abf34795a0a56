#!/usr/bin/env bash
# The JS client as an npm package (CTest clients/js-package): `npm pack` of clients/js, the tarball
# installed with npm into a scratch app in a temp directory, imported there by Node, and bundled with
# esbuild (from npm: the version pinned in tests/node/package.json's devDependencies, so the registry
# or npm's cache must be reachable). Checks the tarball's file list, its version (= the project's),
# the "types" entry, that Node resolves the package by name, and that the bundle holds the client
# and runs.
# Usage: tests/packaging/js_package.sh     Exit code: 0 ok, 1 failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
log() { printf 'js-package: %s\n' "$*"; }
fail() { printf 'js-package: FAILED: %s\n' "$*" >&2; exit 1; }

tmp=$(mktemp -d /tmp/webim-js-package.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

# --- the tarball ----------------------------------------------------------------------------------
tarball=$(cd "$tmp" && npm pack --silent "$ROOT/clients/js" | tail -n1)
[[ -f $tmp/$tarball ]] || fail "npm pack wrote no tarball ($tarball)"
files=$(tar -tzf "$tmp/$tarball" | sort | paste -sd' ')
[[ $files == "package/README.md package/package.json package/webim.d.ts package/webim.js" ]] ||
  fail "the tarball holds: $files"
version=$(sed -nE 's/^project\(webim VERSION ([0-9.]+).*/\1/p' "$ROOT/CMakeLists.txt")
[[ $tarball == "webim-client-$version.tgz" ]] || fail "$tarball: expected webim-client-$version.tgz (CMakeLists.txt VERSION)"
log "packed $tarball: $files"

# --- a scratch app installs it ----------------------------------------------------------------------
esbuild=$(node -e 'process.stdout.write(require(process.argv[1]).devDependencies.esbuild)' "$ROOT/tests/node/package.json")
app="$tmp/app"
mkdir -p "$app/src"
cat >"$app/package.json" <<'EOF'
{ "name": "scratch-app", "version": "1.0.0", "private": true, "type": "module" }
EOF
(cd "$app" && npm install --silent --prefer-offline "$tmp/$tarball" "esbuild@$esbuild") >"$tmp/npm.log" 2>&1 ||
  { cat "$tmp/npm.log" >&2; fail "npm install $tarball esbuild@$esbuild"; }
installed="$app/node_modules/webim-client"
types=$(node -e 'process.stdout.write(require(process.argv[1]).types)' "$installed/package.json")
[[ -f $installed/$types ]] || fail "\"types\": $types is not in the installed package"
grep -q 'export declare class WebimClient\|export class WebimClient' "$installed/$types" ||
  fail "$types does not declare WebimClient"

cat >"$app/src/main.js" <<'EOF'
import { WebimClient, WebimError, backoffDelay } from 'webim-client';
const client = new WebimClient({ url: 'ws://127.0.0.1:1/ws', token: 'x', WebSocket: class {} });
const ok = typeof client.subscribe === 'function' && typeof client.publish === 'function' &&
  new WebimError('unavailable', 'm') instanceof Error && backoffDelay(3, { baseMs: 10, maxMs: 20 }, () => 0.5) === 10;
console.log(ok ? 'webim-client works' : 'webim-client is broken');
EOF
out=$(cd "$app" && node src/main.js 2>&1) || fail "node src/main.js: $out"
[[ $out == "webim-client works" ]] || fail "node src/main.js printed: $out"
log "node imports it by name: $out"

# --- bundled --------------------------------------------------------------------------------------
(cd "$app" && npx --no-install esbuild src/main.js --bundle --format=esm --platform=browser \
  --outfile=dist/app.js --log-level=warning) >"$tmp/esbuild.log" 2>&1 || { cat "$tmp/esbuild.log" >&2; fail "esbuild"; }
grep -qF 'WebimClient: url or urls is required' "$app/dist/app.js" || fail "the bundle does not hold the client"
! grep -q "from ['\"]webim-client['\"]" "$app/dist/app.js" || fail "the bundle still imports webim-client"
out=$(cd "$app" && node dist/app.js 2>&1) || fail "node dist/app.js: $out"
[[ $out == "webim-client works" ]] || fail "the bundle printed: $out"
log "esbuild $esbuild bundled it ($(wc -c <"$app/dist/app.js") bytes) and the bundle runs: ok"
