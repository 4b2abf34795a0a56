#!/usr/bin/env bash
# `cmake --install` lays out what the package installs, under any prefix (CTest deploy/cmake-install):
# installs BUILD_DIR into a DESTDIR with the prefix /opt/webim and checks the files, that the units
# and the example static_dir name that prefix, and that a second install keeps an edited
# /etc/webim config (cmake --install never overwrites one).
# Usage: tests/packaging/cmake_install.sh BUILD_DIR     Exit code: 0 ok, 1 failure.
set -euo pipefail

BUILD=${1:?usage: cmake_install.sh BUILD_DIR}
fail() { printf 'cmake-install: FAILED: %s\n' "$*" >&2; exit 1; }
tmp=$(mktemp -d /tmp/webim-cmake-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
D="$tmp/dest" P=/opt/webim

DESTDIR=$D cmake --install "$BUILD" --prefix "$P" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log" >&2; fail "cmake --install"; }
for f in $P/bin/webim-broadcast $P/bin/webim-frontend \
    $P/lib/systemd/system/webim-broadcast.service $P/lib/systemd/system/webim-frontend@.service \
    $P/lib/systemd/system/webim.target $P/lib/sysusers.d/webim.conf $P/lib/tmpfiles.d/webim.conf \
    $P/lib/sysctl.d/90-webim.conf $P/share/webim/demo/index.html $P/share/webim/demo/app.js \
    $P/share/webim/js/webim.js $P/share/webim/js/webim.d.ts $P/share/php/Webim/autoload.php \
    $P/share/php/Webim/src/Hub.php /etc/webim/webim-broadcast.toml /etc/webim/webim-frontend.toml \
    /etc/security/limits.d/90-webim.conf; do
  [[ -e $D$f ]] || fail "$f is not installed"
done
[[ -x $D$P/bin/webim-frontend ]] || fail "$P/bin/webim-frontend is not executable"
grep -qxE "ExecStart=$P/bin/webim-broadcast .*" "$D$P/lib/systemd/system/webim-broadcast.service" ||
  fail "webim-broadcast.service does not start $P/bin/webim-broadcast"
grep -qxE "ExecStart=$P/bin/webim-frontend .*" "$D$P/lib/systemd/system/webim-frontend@.service" ||
  fail "webim-frontend@.service does not start $P/bin/webim-frontend"
grep -qxF "static_dir = [\"$P/share/webim/demo\", \"/js/=$P/share/webim/js\"]" "$D/etc/webim/webim-frontend.toml" ||
  fail "the installed webim-frontend.toml does not serve $P/share/webim: $(grep '^static_dir' "$D/etc/webim/webim-frontend.toml")"
! grep -rq /usr/local "$D$P/lib/systemd/system" || fail "an installed unit still names /usr/local"
# The installed PHP library loads through its autoload.php.
if command -v php >/dev/null 2>&1; then
  out=$(php -r 'require $argv[1]; echo class_exists("Webim\\Token") ? "found" : "missing";' "$D$P/share/php/Webim/autoload.php" 2>&1)
  [[ $out == found ]] || fail "the installed PHP library: $out"
fi

echo "# edited" >>"$D/etc/webim/webim-frontend.toml"
DESTDIR=$D cmake --install "$BUILD" --prefix "$P" >"$tmp/install2.log" 2>&1 || { cat "$tmp/install2.log" >&2; fail "second cmake --install"; }
grep -qxF "# edited" "$D/etc/webim/webim-frontend.toml" || fail "a second cmake --install overwrote an edited config"
echo "cmake-install: $P layout, units and static_dir under the prefix, edited config kept: ok"
