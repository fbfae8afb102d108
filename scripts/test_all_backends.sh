#!/usr/bin/env bash
# Lint with ruff, then run the whole test suite once per Keras backend, each in its own
# process (KERAS_BACKEND is read when keras is imported). Extra arguments go to pytest.
# Fails if ruff fails, if any backend fails, or if any backend collected no tests (exit 5).
set -u
cd "$(dirname "$0")/.."

status=0
summary=()
echo "=== ruff"
if ruff check . && ruff format --check --quiet . ; then summary+=("ruff: ok"); else
  summary+=("ruff: FAILED"); status=1; fi

for backend in tensorflow jax torch; do
  echo "=== KERAS_BACKEND=$backend"
  start=$(date +%s)
  KERAS_BACKEND=$backend python -m pytest -q "$@"
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
