#!/usr/bin/env bash
# Coverage-guided fuzzing of nook's input parsers (cargo fuzz, libFuzzer):
# config.json -> Plan, seccomp profile -> BPF (checked by an interpreter
# against the profile), state.json, and the C ABI's JSON entry points.
#
#   tools/fuzz.sh [SECONDS [TARGET...]]
#
# Replays the committed corpus (fuzz/corpus/TARGET) on stable Rust first,
# then fuzzes each target for SECONDS (default 20) starting from it, and
# fails on the first crash, hang (10 s), leak or oracle mismatch. New
# corpus entries go to a temporary directory, not into the repository; a
# crashing input is kept in fuzz/artifacts/TARGET/ to replay with
# `cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...`.
#
# Works on stable Rust: `-s none` builds without a sanitizer, so cargo fuzz
# only passes stable flags (-Cpasses=sancov-module and -Cllvm-args for the
# coverage counters libFuzzer feeds on); --debug-assertions turns integer
# overflow into a panic, which is a finding. Needs cargo-fuzz and a C++
# compiler (tools/install-test-deps.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(config seccomp seccomp_rules state ffi_json)

work=$(mktemp -d "${TMPDIR:-/tmp}/nook-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The harnesses keep a scratch bundle and state roots under $TMPDIR; a
# crashing run cannot remove its own, this trap does.
export TMPDIR=$work

cd fuzz
cargo test --quiet
flags=(-s none -O --debug-assertions)
cargo fuzz build "${flags[@]}"
for t in "${targets[@]}"; do
	mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
	echo "fuzz: $t for ${secs}s" >&2
	if ! cargo fuzz run "${flags[@]}" "$t" "$work/corpus/$t" "corpus/$t" -- \
		-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$work/artifacts/$t/" >"$work/$t.log" 2>&1; then
		tail -n 60 "$work/$t.log" >&2
		mkdir -p "artifacts/$t"
		cp "$work/artifacts/$t/"* "artifacts/$t/" 2>/dev/null || true
		echo "tools/fuzz.sh: $t failed; input(s) kept in fuzz/artifacts/$t/" >&2
		exit 1
	fi
	grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+.*DONE' "$work/$t.log" >&2 || true
done
echo "tools/fuzz.sh: ${targets[*]}: no crash in ${secs}s each"
