#!/usr/bin/env bash
# `make fuzz`: build every fuzz target (fuzz/, cargo-fuzz + libFuzzer) and run each for a bounded
# time: FUZZ_SECONDS per target (default 15 locally; scripts/test.sh, hence CI, uses 60). The
# corpus grows in fuzz/corpus/<target>/ (only the seed-* files are committed). A crash fails
# with the path of the input that reproduces it.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-15}"
# cargo-fuzz passes nightly-only -Z flags (sanitizers, coverage); the stable toolchain accepts
# them with RUSTC_BOOTSTRAP=1, so no nightly toolchain is needed.
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

cd fuzz
started=$(date +%s)
cargo fuzz build -O
echo "fuzz: targets built in $(( $(date +%s) - started )) s"
failed=()
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target" "artifacts/$target"
  log="artifacts/$target/last-run.log"
  echo "fuzz: $target for ${seconds} s"
  if cargo fuzz run -O "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
      -print_final_stats=1 >"$log" 2>&1; then
    grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | sed "s/^/  $target: /" || true
    echo "  $target: corpus $(find "corpus/$target" -type f | wc -l) inputs"
  else
    tail -n 40 "$log"
    reproducer=$(grep -oE 'Test unit written to [^ ]+' "$log" | tail -n 1 | sed 's/Test unit written to //')
    echo "fuzz: $target FAILED; reproducer: ${reproducer:-fuzz/artifacts/$target/ (see fuzz/$log)}" >&2
    echo "  reproduce with: (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O $target ${reproducer:-<file>})" >&2
    failed+=("$target")
  fi
done
echo "fuzz: done in $(( $(date +%s) - started )) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}" >&2
  exit 1
fi
