#!/usr/bin/env bash
# CTest hub/unread-replies: an app peer that sends 1,500 `hist` requests for ~1 MiB of history each
# and never reads the replies must not make the hub keep them all: app pages hold at most 64 KiB
# and at most 1,024 replies are queued per app peer (docs/protocol.md section 4). Before the bound,
# the hub grew by ~1.3 GB here.
# Usage: hub_unread_replies.sh WEBIM_BROADCAST
set -euo pipefail
BROADCAST=${1:?usage: hub_unread_replies.sh WEBIM_BROADCAST}
if ! php -r 'exit(class_exists("ZMQContext") ? 0 : 1);' 2>/dev/null; then
  echo "skipped: php-zmq is not available"; exit 77
fi
DIR=$(mktemp -d /tmp/webim-unread.XXXXXX)
HUB=""
cleanup() { [ -n "$HUB" ] && kill "$HUB" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
APP="ipc://$DIR/app"
"$BROADCAST" --app-ingress "$APP" --hub-ingress "ipc://$DIR/fe" --hub-pub "ipc://$DIR/pub" --data "$DIR/hub" \
  --no-sync --log-level warn > "$DIR/hub.log" 2>&1 &
HUB=$!
for _ in $(seq 1 100); do [ -S "$DIR/app" ] && break; sleep 0.05; done
rss() { awk '/VmRSS/ {print $2}' "/proc/$HUB/status"; }

# 20 messages of ~60 KB: every hist page of this channel is ~1 MiB.
PAD=$(head -c 60000 /dev/zero | tr '\0' 'x')
for i in $(seq 1 20); do printf '{"op":"pub","ch":"room:big","data":{"i":%d,"pad":"%s"}}\n' "$i" "$PAD"; done \
  | "$BROADCAST" request --app-ingress "$APP" --timeout-ms 10000 - > /dev/null
BEFORE=$(rss)
php -d memory_limit=512M -r '
  $ctx = new ZMQContext();
  $s = $ctx->getSocket(ZMQ::SOCKET_DEALER);
  $s->setSockOpt(ZMQ::SOCKOPT_RCVHWM, 1);
  $s->setSockOpt(ZMQ::SOCKOPT_LINGER, 0);
  $s->connect($argv[1]);
  for ($i = 0; $i < 1500; $i++) $s->sendmulti(["", "{\"op\":\"hist\",\"ch\":\"room:big\",\"after\":0,\"limit\":200}"]);
  sleep(4);  // the hub answers all of them; nobody reads
  fwrite(STDOUT, "sent 1500\n");
' "$APP"
AFTER=$(rss)
GROWN=$(( (AFTER - BEFORE) / 1024 ))
echo "hub RSS: ${BEFORE} kB before, ${AFTER} kB with 1,500 unread history replies: +${GROWN} MB"
kill -0 "$HUB" || { echo "FAIL: the hub died"; cat "$DIR/hub.log"; exit 1; }
# It keeps serving others.
"$BROADCAST" request --app-ingress "$APP" --timeout-ms 5000 '{"op":"stats"}' | grep -q '"ok":true' || { echo "FAIL: no stats"; exit 1; }
if [ "$GROWN" -gt 100 ]; then echo "FAIL: the hub kept the unread replies (+${GROWN} MB)"; exit 1; fi
echo "ok: bounded"
