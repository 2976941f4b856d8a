#!/usr/bin/env bash
# The regression gate CI trusts on a noisy machine (see src/gate.rs and README.md).
#
#   scripts/gate.sh            check: fails (exit 1) if any kernel executes more than 3% more
#                              instructions than results/gate/baseline.json says, or if
#                              valgrind's memcheck finds an invalid read or write in the
#                              edge-shape tests
#   scripts/gate.sh --update   after an intended change (a new kernel, a faster one, a new Rust
#                              release): write the new counts as the baseline, then commit it
#
# NIN_BENCH_FORCE_SCALAR=1 scripts/gate.sh forces pulp's scalar fallback (the gate must fail).
# Installs what it needs: valgrind (Debian package).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=check
case "${1:-}" in
  "") ;;
  --update) mode=update ;;
  *) echo "usage: scripts/gate.sh [--update]" >&2; exit 2 ;;
esac

if ! command -v valgrind >/dev/null 2>&1; then
  echo "== installing valgrind"
  if [ "$(id -u)" = 0 ]; then
    (apt-get install -y -q valgrind || (apt-get update -q && apt-get install -y -q valgrind)) >/dev/null
  else
    echo "valgrind is missing: install it (Debian: apt-get install valgrind)" >&2
    exit 2
  fi
fi

echo "== instruction counts (callgrind), every registered kernel on the gate problems"
cargo bench --locked --bench gate >/tmp/nin-bench-gate.log 2>&1 || {
  cat /tmp/nin-bench-gate.log >&2
  echo "gate: the gate benchmark itself failed" >&2
  exit 1
}

# The binary, built in one command with the gate bench: a build with a bench target unifies the
# dependencies' features with the dev-dependencies', as the bench build above did, so it reuses
# that build. (`cargo run --release` alone resolves other features and compiled every
# dependency and the crate a second time: about 3 minutes of CI.)
cargo build --locked --release --quiet --bin nin-bench --bench gate
nin_bench="${CARGO_TARGET_DIR:-target}/release/nin-bench"
counts="${CARGO_TARGET_DIR:-target}/gate"
if [ "$mode" = update ]; then
  "$nin_bench" gate --counts "$counts" --update
  exit 0
fi
status=0
"$nin_bench" gate --counts "$counts" || status=1

echo "== memcheck: edge-shape, bad-input, GAP, chain and int8 tests under valgrind"
# Addressability only (--undef-value-errors=no): what the gate must catch is a SIMD kernel
# reading or writing outside its buffers. Definedness tracking reports "conditional jump on
# uninitialised value" inside optimised loop code whose results the tests verify in full
# (every output is checked, outputs start as NaN), so it would only add noise here. The chain
# tests on NIN's full-size micro-networks and heads are skipped (a minute under valgrind); the
# chain edge shapes exercise the same code paths.
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER="valgrind --quiet --error-exitcode=99 --leak-check=no --undef-value-errors=no"
# The hardware paths valgrind runs (scalar and AVX2; it hides AVX-512): emu512, the 16-lane code
# emulated, would take many minutes under valgrind; the guard-page tests cover it in `cargo test --release`.
export NIN_BENCH_TEST_ISAS=scalar,avx2
if ! cargo test --locked --release --quiet --test conv1x1_kernels --test gap_kernels --test mlpconv_kernels --test bad_input --test int8_kernels \
    -- --skip on_nin_micro_networks --skip on_nin_heads 2>&1 | tail -n 12; then
  echo "gate: memcheck found invalid memory accesses (or a test failed under valgrind)" >&2
  status=1
fi
exit $status
