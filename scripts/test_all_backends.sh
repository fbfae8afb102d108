#!/usr/bin/env bash
# Lint with ruff, then run the whole test suite once per Keras backend, each in its own
# process (KERAS_BACKEND is read when keras is imported). Extra arguments go to pytest.
# Fails if ruff fails, if any backend fails, or if any backend collected no tests (exit 5).
# Tests run in KERAS_CPC_TEST_WORKERS pytest-xdist workers (default 2, CI's cores): much of a
# test's time is single-threaded tracing and XLA compilation, so two workers nearly halve the
# wall time (JAX 820 s -> 463 s on 2 cores). 0 runs in one process.
set -u
cd "$(dirname "$0")/.."

status=0
summary=()
echo "=== ruff"
if ruff check . && ruff format --check --quiet . ; then summary+=("ruff: ok"); else
  summary+=("ruff: FAILED"); status=1; fi

workers="${KERAS_CPC_TEST_WORKERS:-2}"
parallel=()
if [ "$workers" != "0" ]; then parallel=(-n "$workers"); fi

for backend in tensorflow jax torch; do
  echo "=== KERAS_BACKEND=$backend"
  start=$(date +%s)
  KERAS_BACKEND=$backend python -m pytest -q ${parallel[@]+"${parallel[@]}"} "$@"
  rc=$?
  took=$(( $(date +%s) - start ))
  if [ "$rc" -eq 0 ]; then
    summary+=("$backend: passed (${took}s)")
  elif [ "$rc" -eq 5 ]; then
    summary+=("$backend: FAILED, no tests were collected (pytest exit 5)"); status=1
  else
    summary+=("$backend: FAILED (pytest exit $rc, ${took}s)"); status=1
  fi
done

echo "=== summary"
printf '%s\n' "${summary[@]}"
exit "$status"
