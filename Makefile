# Deskbeam: `make run` starts the product, `make test` runs every test, `make bench` measures.
.PHONY: run test bench deps lint

run:
	@scripts/deps.sh run
	@scripts/run.sh

test:
	@scripts/test.sh

bench:
	@scripts/deps.sh bench
	@scripts/bench.sh

lint:
	cargo clippy --workspace --all-targets
	cargo fmt --all --check
