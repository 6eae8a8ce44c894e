#!/usr/bin/env bash
# `make bench`: release build, then print the benchmark figures (no pass/fail).
# DESKBEAM_G2G_SECONDS sets how long glass-to-glass is measured per screen size (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
# Glass-to-glass runs the viewer page in headless Chromium (playwright-core from tests/browser).
scripts/deps.sh test
[ -d tests/browser/node_modules/playwright-core ] || (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
cargo build --release --bins
export RUST_LOG="${RUST_LOG:-warn}"
cargo run --release -q -p deskbeam-tests --bin deskbeam-bench
cargo run --release -q -p deskbeam-tests --bin deskbeam-g2g -- --seconds "${DESKBEAM_G2G_SECONDS:-20}"
# Server load: 1000 fake agents on the signaling WebSocket, 1000 WHEP negotiations (loopback).
RUST_LOG="${RUST_LOG:-warn}" cargo run --release -q -p deskbeam-tests --bin deskbeam-load -- --agents 1000 --negotiations 1000
# TURN relay: relayed 1080p-rate streams through the embedded relay, the server's CPU per stream.
cargo run --release -q -p deskbeam-tests --bin deskbeam-relay-bench
# Voice: mouth-to-ear audio latency on loopback (PulseAudio monitor → Opus → viewer decode).
cargo run --release -q -p deskbeam-tests --bin deskbeam-voice-latency
