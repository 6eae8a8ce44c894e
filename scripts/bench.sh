#!/usr/bin/env bash
# `make bench`: release build, then print the benchmark figures (no pass/fail).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins
RUST_LOG="${RUST_LOG:-warn}" cargo run --release -q -p deskbeam-tests --bin deskbeam-bench
