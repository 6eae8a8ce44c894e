#!/usr/bin/env bash
# Starts a small demo desktop on $DISPLAY: a coloured background, a clock and a terminal that
# keeps changing, so a viewer sees something move. Runs until killed.
set -u
xsetroot -solid '#1f3b57' 2>/dev/null || true
pids=()
if command -v xclock >/dev/null; then xclock -update 1 -geometry 220x220+40+40 & pids+=($!); fi
if command -v xeyes >/dev/null; then xeyes -geometry 160x100+300+40 & pids+=($!); fi
if command -v xterm >/dev/null; then
  xterm -geometry 100x30+40+320 -bg '#101418' -fg '#d0d8e0' -title 'Deskbeam demo' \
    -e bash -c 'while true; do clear; date; echo; echo "This is a virtual desktop shared by Deskbeam."; echo; top -b -n 1 | head -20; sleep 1; done' & pids+=($!)
fi
trap 'kill "${pids[@]}" 2>/dev/null' EXIT INT TERM
wait
