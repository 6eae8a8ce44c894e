#!/usr/bin/env bash
# `make test`: install what is missing, then run every test (units, in-process pipeline, server,
# Xvfb capture, headless Chromium). Tests that need a tool fail loudly here instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh test
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/browser && npm run --silent check)
(cd tests/browser && npm run --silent static-check)
(cd tests/browser && npm run --silent dashboard-check)

# aiortc: an independent WebRTC stack that plays a WHEP viewer in the interop test.
if [ ! -x tests/whep/.venv/bin/python ]; then
  python3 -m venv tests/whep/.venv 2>/dev/null || { scripts/deps.sh venv && python3 -m venv tests/whep/.venv; }
fi
tests/whep/.venv/bin/python -m pip install --quiet --disable-pip-version-check 'aiortc==1.16.*'

export DESKBEAM_REQUIRE_ALL=1
cargo build --bins
cargo test --workspace -- --test-threads=1

# Every decoder a peer can reach, fuzzed for a bounded time; a crash fails with its reproducer.
FUZZ_SECONDS="${FUZZ_SECONDS:-60}" scripts/fuzz.sh
