#!/usr/bin/env bash
# The Debian package, installed, run, upgraded and purged in a clean Debian 12 chroot (CTest
# deploy/package-install). Needs root (mount namespaces, chroot), network access to
# deb.debian.org for the first run (the base chroot is cached as var/package/chroot/*.tar, keyed by
# the package's dependencies), and mmdebstrap (installed with apt-get when missing).
#
# Usage: tests/packaging/package_install.sh BUILD_DIR
#   BUILD_DIR: the CMake build whose webim-broadcast and webim-frontend are packaged
#   (scripts/package --prebuilt), twice: VERSION-1, then VERSION-2 for the upgrade.
#
# Steps (each fails the test with a message):
#   1. dpkg -i: the secrets and keys exist with their owner and mode, the webim user exists
#   2. systemd-analyze verify of the installed units, without a warning
#   3. systemd-sysusers --root and systemd-tmpfiles --root --create applied offline from outside
#   4. each unit's ExecStart run as the unit's User/Group (setpriv), in a network namespace of its
#      own: the frontend serves the demo page and the JS client and reaches the hub, the hub answers
#      on app.sock to a webim-app member (and not to others), PHP finds the library on its include_path
#   5. upgrade to VERSION-2: an edited conffile and the generated secrets are kept
#      (and, read from its maintainer scripts before the chroot: the upgrade restarts running units)
#   6. purge: the files, secrets and state are gone
# Exit code: 0 ok, 1 failure, 77 not root (skipped).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MIRROR=${WEBIM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
log() { printf 'package-install: %s\n' "$*"; }
fail() { printf 'package-install: FAILED: %s\n' "$*" >&2; exit 1; }

# ------------------------------------------------------------------------------------------------
# Inside the private mount, network and PID namespaces: $1 = the chroot, $2 = the version prefix.
# ------------------------------------------------------------------------------------------------
inside() {
  local R=$1 V=$2
  mount --make-rprivate /
  mount -t proc proc "$R/proc"
  mount --rbind /dev "$R/dev"
  mount -t tmpfs -o mode=0755 tmpfs "$R/run"
  ip link set lo up
  in_root() { chroot "$R" "$@"; }

  log "1. dpkg -i webim_$V-1"
  in_root dpkg -i "/tmp/webim_$V-1_$(dpkg --print-architecture).deb" >"$R/tmp/dpkg-install.log" 2>&1 ||
    { cat "$R/tmp/dpkg-install.log" >&2; fail "dpkg -i"; }
  in_root getent passwd webim >/dev/null || fail "no webim user after install"
  in_root getent group webim-app >/dev/null || fail "no webim-app group after install"
  local expected="
    /etc/webim/secret root:webim 640
    /etc/webim/api-keys root:webim 640
    /etc/webim/hub.key root:webim 640
    /etc/webim/hub.pub root:root 644
    /etc/webim/frontend.key root:webim 640
    /etc/webim/frontend.pub root:root 644
    /etc/webim/app.key root:webim-app 640
    /etc/webim/app.pub root:root 644
    /etc/webim/frontends.keys root:root 644
    /etc/webim/apps.keys root:root 644
    /etc/webim/webim-frontend.toml root:root 644
    /var/lib/webim webim:webim 750
    /run/webim webim:webim 711"
  local path owner mode got
  while read -r path owner mode; do
    [[ -n $path ]] || continue
    got=$(in_root stat -c '%U:%G %a' "$path" 2>/dev/null) || fail "$path is missing after install"
    [[ $got == "$owner $mode" ]] || fail "$path is $got, expected $owner $mode"
  done <<<"$expected"
  [[ $(wc -c <"$R/etc/webim/secret") -ge 33 ]] || fail "the secret is shorter than 32 bytes"
  grep -qxF "$(cat "$R/etc/webim/frontend.pub")" "$R/etc/webim/frontends.keys" ||
    fail "frontends.keys does not list frontend.pub"
  grep -qxF "$(cat "$R/etc/webim/app.pub")" "$R/etc/webim/apps.keys" || fail "apps.keys does not list app.pub"

  log "2. systemd-analyze verify of the installed units"
  local out
  out=$(in_root sh -c 'cd /lib/systemd/system && systemd-analyze verify --man=no ./webim.target \
    ./webim-broadcast.service ./webim-frontend@0.service' 2>&1) || fail "systemd-analyze verify: $out"
  [[ -z $out ]] || fail "systemd-analyze verify warned: $out"

  log "3. sysusers and tmpfiles applied offline (--root)"
  systemd-sysusers --root="$R" || fail "systemd-sysusers --root"
  systemd-tmpfiles --root="$R" --create "$R/usr/lib/tmpfiles.d/webim.conf" || fail "systemd-tmpfiles --root --create"
  in_root getent passwd webim >/dev/null || fail "no webim user after systemd-sysusers --root"

  log "4. each unit's ExecStart as its user"
  run_unit "$R" webim-broadcast.service "" "$R/tmp/hub.log"
  wait_for "the hub's app.sock" 20 test -S "$R/run/webim/app.sock"
  run_unit "$R" webim-frontend@.service 0 "$R/tmp/frontend.log"
  wait_for "the frontend's /healthz" 20 curl -fsS -o /dev/null http://127.0.0.1:8080/healthz
  curl -fsS -o "$R/tmp/index.html" http://127.0.0.1:8080/ || fail "GET / failed"
  grep -q '<title>webim chat</title>' "$R/tmp/index.html" || fail "GET / does not serve the demo page"
  curl -fsS -o "$R/tmp/webim.js" http://127.0.0.1:8080/js/webim.js || fail "GET /js/webim.js failed"
  cmp -s "$R/tmp/webim.js" "$R/usr/share/webim/js/webim.js" || fail "GET /js/webim.js is not the JS client"
  out=$(app_stats) || fail "a webim-app member cannot ask the hub for stats: $out"
  grep -q '"ok":true' <<<"$out" || fail "stats answered: $out"
  # The frontend (as webim) reached the hub's 0600 ipc sockets: the hub counts it.
  wait_for "the hub to count the frontend" 20 eval 'app_stats | grep -q "\"frontends\":1"'
  if in_root setpriv --reuid=nobody --regid=nogroup --clear-groups \
      webim-broadcast request --app-ingress ipc:///run/webim/app.sock '{"op":"stats"}' >/dev/null 2>&1; then
    fail "a user outside webim-app reached app.sock"
  fi
  out=$(in_root php -r 'require "Webim/autoload.php"; echo class_exists("Webim\\Token") ? "found" : "missing";' 2>&1)
  [[ $out == found ]] || fail "PHP: require 'Webim/autoload.php': $out"
  stop_units

  log "5. upgrade to webim_$V-2"
  echo "# edited by the package test" >>"$R/etc/webim/webim-frontend.toml"
  local before after
  before=$(cd "$R/etc/webim" && sha256sum secret api-keys hub.key frontend.key app.key frontends.keys apps.keys)
  in_root dpkg -i --force-confold "/tmp/webim_$V-2_$(dpkg --print-architecture).deb" >"$R/tmp/dpkg-upgrade.log" 2>&1 ||
    { cat "$R/tmp/dpkg-upgrade.log" >&2; fail "dpkg -i (upgrade)"; }
  [[ $(in_root dpkg-query -W -f='${Version}' webim) == "$V-2" ]] || fail "the upgrade did not install $V-2"
  grep -qxF "# edited by the package test" "$R/etc/webim/webim-frontend.toml" || fail "the upgrade overwrote an edited conffile"
  after=$(cd "$R/etc/webim" && sha256sum secret api-keys hub.key frontend.key app.key frontends.keys apps.keys)
  [[ $before == "$after" ]] || fail "the upgrade changed the generated secrets"

  log "6. dpkg --purge webim"
  in_root dpkg --purge webim >"$R/tmp/dpkg-purge.log" 2>&1 || { cat "$R/tmp/dpkg-purge.log" >&2; fail "dpkg --purge"; }
  local gone
  for gone in /etc/webim /var/lib/webim /run/webim /usr/bin/webim-broadcast /usr/bin/webim-frontend \
      /lib/systemd/system/webim-broadcast.service /lib/systemd/system/webim-frontend@.service \
      /lib/systemd/system/webim.target /usr/lib/sysusers.d/webim.conf /usr/lib/tmpfiles.d/webim.conf \
      /usr/lib/sysctl.d/90-webim.conf /etc/security/limits.d/90-webim.conf /usr/share/webim /usr/share/php/Webim; do
    [[ ! -e $R$gone ]] || fail "$gone is left after purge"
  done
  [[ -z $(in_root dpkg-query -W -f='${db:Status-Status}' webim 2>/dev/null | grep -v not-installed) ]] ||
    fail "dpkg still knows webim after purge"
  log "ok: install, verify, run, upgrade, purge"
}

# The hub's stats, asked on app.sock as nobody with the webim-app group (the PHP app's position).
app_stats() {
  chroot "$R" setpriv --reuid=nobody --regid=nogroup --groups="$(chroot "$R" getent group webim-app | cut -d: -f3)" \
    webim-broadcast request --app-ingress ipc:///run/webim/app.sock '{"op":"stats"}' 2>&1
}

# wait_for WHAT SECONDS COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || { cat "$R"/tmp/*.log >&2 2>/dev/null || true; fail "timed out waiting for $what"; }
    sleep 0.1
  done
}

UNIT_PIDS=()
# run_unit ROOT UNIT INSTANCE LOG: the unit's ExecStart (specifiers %i %I %d %n %N %p %H %l %%
# replaced; any other fails the test) as its User=, Group= and SupplementaryGroups=, with its
# UMask= and its LoadCredential= files copied to /run/credentials/UNIT (owned by the user, 0400, as
# systemd does), in the background.
run_unit() {
  local R=$1 file=$2 instance=$3 logfile=$4
  local unit_file="$R/lib/systemd/system/$file"
  local name=${file/@/@$instance}
  key() { sed -nE "s/^$1=(.*)/\1/p" "$unit_file" | tail -n1; }
  local exec user group supp umask creds
  exec=$(key ExecStart) user=$(key User) group=$(key Group) supp=$(key SupplementaryGroups) umask=$(key UMask)
  [[ -n $exec && -n $user ]] || fail "$file has no ExecStart or User"
  creds="/run/credentials/$name"
  mkdir -p "$R$creds"
  local cred
  while read -r cred; do
    [[ -n $cred ]] || continue
    cp "$R${cred#*:}" "$R$creds/${cred%%:*}"
    chroot "$R" chown "$user" "$creds/${cred%%:*}"
    chmod 0400 "$R$creds/${cred%%:*}"
  done < <(sed -nE 's/^LoadCredential=(.*)/\1/p' "$unit_file")
  local host
  host=$(chroot "$R" cat /etc/hostname 2>/dev/null || hostname)
  exec=${exec//%%/$'\x01'}
  exec=${exec//%i/$instance}
  exec=${exec//%I/$instance}
  exec=${exec//%d/$creds}
  exec=${exec//%n/$name}
  exec=${exec//%N/${name%.*}}
  exec=${exec//%p/${name%%@*}}
  exec=${exec//%H/$host}
  exec=${exec//%l/${host%%.*}}
  [[ $exec != *%* ]] || fail "$file: ExecStart has a specifier this test does not know: $exec"
  exec=${exec//$'\x01'/%}
  local groups=(--clear-groups)
  [[ -z $supp ]] || groups=(--groups "$(chroot "$R" getent group "$supp" | cut -d: -f3)")
  log "   $name: $exec (as $user:$group${supp:+ +$supp})"
  # shellcheck disable=SC2086 # ExecStart is split into words, as systemd does (no quotes in ours)
  (umask "${umask:-0022}" && exec chroot "$R" setpriv --reuid="$user" --regid="$group" "${groups[@]}" \
    --inh-caps=-all --no-new-privs -- $exec) >"$logfile" 2>&1 &
  UNIT_PIDS+=($!)
}

stop_units() {
  local pid
  for pid in "${UNIT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${UNIT_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  UNIT_PIDS=()
}

if [[ ${1:-} == --inside ]]; then
  R=$2
  inside "$2" "$3"
  exit 0
fi

# ------------------------------------------------------------------------------------------------
# Outside: two packages, the cached base chroot, then the steps above in fresh namespaces.
# ------------------------------------------------------------------------------------------------
BUILD=${1:?usage: package_install.sh BUILD_DIR}
if [[ $EUID -ne 0 ]]; then
  log "needs root (chroot, mount and network namespaces): skipped"
  exit 77
fi
for tool in mmdebstrap:mmdebstrap unshare:util-linux setpriv:util-linux curl:curl systemd-sysusers:systemd; do
  if ! command -v "${tool%%:*}" >/dev/null 2>&1; then
    log "installing ${tool#*:}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${tool#*:}" >/dev/null
  fi
done

tmp=$(mktemp -d /tmp/webim-package-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
upstream=$(sed -nE 's/^project\(webim VERSION ([0-9.]+).*/\1/p' "$ROOT/CMakeLists.txt")
started=$SECONDS
for rev in 1 2; do
  "$ROOT/scripts/package" --prebuilt "$BUILD" --version "$upstream-$rev" --out "$tmp/debs" --work "$tmp/work" >"$tmp/package-$rev.log" 2>&1 ||
    { cat "$tmp/package-$rev.log" >&2; fail "scripts/package --version $upstream-$rev"; }
done
log "built webim_$upstream-1 and -2 in $((SECONDS - started)) s"
# An upgrade under systemd (not PID 1 here, so read from the maintainer scripts): the units that
# were running are restarted (docs/deploy.md), never stopped and left stopped.
dpkg-deb -e "$tmp/debs/webim_${upstream}-2_$(dpkg --print-architecture).deb" "$tmp/control-2"
if grep -qs 'deb-systemd-invoke stop' "$tmp/control-2/preinst" &&
    ! grep -qs 'deb-systemd-invoke .*restart' "$tmp/control-2/postinst"; then
  fail "an upgrade stops the running units (preinst) and never starts them again (postinst)"
fi
grep -qs "deb-systemd-invoke .*restart.*'webim.target'" "$tmp/control-2/postinst" ||
  fail "an upgrade does not restart the running units (postinst: no restart of webim.target)"

# The base: Debian 12 with the package's dependencies (so dpkg -i needs no network) and
# php-cli for the PHP library. Cached per dependency list.
deb="$tmp/debs/webim_${upstream}-1_$(dpkg --print-architecture).deb"
deps=$(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed -E 's/\(.*\)//; s/\|.*//; s/[[:space:]]//g' | grep . | sort -u)
include=$(printf '%s\n' $deps php-cli | sort -u | paste -sd,)
cache="$ROOT/var/package/chroot"
base="$cache/bookworm-$(sha256sum <<<"$include $MIRROR" | cut -c1-16).tar"
mkdir -p "$cache"
if [[ ! -s $base ]]; then
  started=$SECONDS
  log "making the base chroot (mmdebstrap bookworm, cached as $base)"
  mmdebstrap --quiet --format=tar --variant=apt --include="$include" bookworm "$base.tmp" "$MIRROR" >"$tmp/mmdebstrap.log" 2>&1 ||
    { cat "$tmp/mmdebstrap.log" >&2; rm -f "$base.tmp"; fail "mmdebstrap"; }
  mv "$base.tmp" "$base"
  find "$cache" -name 'bookworm-*.tar' ! -path "$base" -delete
  log "base chroot made in $((SECONDS - started)) s"
fi

R="$tmp/root"
mkdir -p "$R"
tar -xf "$base" -C "$R"
cp "$tmp"/debs/*.deb "$R/tmp/"
# Own mount, network and PID namespaces: nothing leaks onto the host (port 8080, mounts), and every
# process started inside dies with it.
unshare --mount --net --pid --fork bash "${BASH_SOURCE[0]}" --inside "$R" "$upstream"
