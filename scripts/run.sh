#!/usr/bin/env bash
# `make run`: build, start the server (embedded SQLite under ./data), start the agent on the
# real display (or a virtual one with a demo desktop) and print the viewer link.
set -euo pipefail
cd "$(dirname "$0")/.."

LISTEN="${DESKBEAM_LISTEN:-127.0.0.1:8080}"
DATA_DIR="${DESKBEAM_DATA_DIR:-$PWD/data}"
TTL="${DESKBEAM_TTL:-1h}"
BIN=target/release

cargo build --release --bins
mkdir -p "$DATA_DIR"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$BIN/deskbeam-server" --listen "$LISTEN" --data-dir "$DATA_DIR" &
pids+=($!)
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/${LISTEN%:*}/${LISTEN##*:}") 2>/dev/null; then break; fi
  sleep 0.1
done

if [ -z "${DISPLAY:-}" ]; then
  n=99
  while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
  export DISPLAY=":$n"
  Xvfb "$DISPLAY" -screen 0 1920x1080x24 -nolisten tcp -noreset >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do xdpyinfo >/dev/null 2>&1 && break; sleep 0.1; done
  scripts/demo-desktop.sh >/dev/null 2>&1 &
  pids+=($!)
  echo "deskbeam: no DISPLAY; sharing a virtual demo desktop on $DISPLAY" >&2
fi

DESKBEAM_TOKEN="$("$BIN/deskbeam-server" host-token --data-dir "$DATA_DIR")"
export DESKBEAM_TOKEN
"$BIN/deskbeam-agent" share --server "http://$LISTEN" --ttl "$TTL" &
pids+=($!)
echo "deskbeam: open the link above in a browser; Ctrl-C stops everything" >&2
wait -n "${pids[@]}"
