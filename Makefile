# Deskbeam: `make run` starts the product, `make test` runs every test, `make bench` measures,
# `make fuzz` runs every fuzz target for a bounded time (FUZZ_SECONDS each).
.PHONY: run test bench fuzz deps lint

run:
	@scripts/deps.sh run
	@scripts/run.sh

test:
	@scripts/test.sh

bench:
	@scripts/deps.sh bench
	@scripts/bench.sh

fuzz:
	@scripts/fuzz.sh

lint:
	cargo clippy --workspace --all-targets
	cargo fmt --all --check
