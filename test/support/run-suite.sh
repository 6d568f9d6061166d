#!/usr/bin/env bash
# `npm test`: the whole suite on this machine's Node, then again on Node 24 with glibc >= 2.38 in
# the Debian 13 root of test/support/node24-root.sh, where uWS's maintained build loads (see
# docs/runtimes.md). Arguments go to vitest in both runs (`npm test -- test/server`).
#
# CINDER_TEST_RUNTIMES picks the runs: "host,node24-root" (the default), "host" or "node24-root".
# The root is built once and cached outside the repository; on a machine without it, it is built
# in the background (at lower priority) while the suite runs on this machine's Node.
set -euo pipefail
cd "$(dirname "$0")/../.."

runtimes=",${CINDER_TEST_RUNTIMES:-host,node24-root},"
root_script=test/support/node24-root.sh
status=0
builder=""

stop_builder() { [ -n "$builder" ] && kill "$builder" 2>/dev/null || true; }
trap stop_builder EXIT

if [[ $runtimes == *,node24-root,* ]]; then
  if [ "$(id -u)" != "0" ]; then
    echo "npm test runs the suite on Node 24 in a Debian 13 root as well, which needs root (debootstrap, mount, chroot):" >&2
    echo "run 'sudo npm test', or only this machine's Node with 'CINDER_TEST_RUNTIMES=host npm test'." >&2
    exit 1
  fi
  root_log="$(bash "$root_script" path).build.log"
  if ! bash "$root_script" run true 2>/dev/null; then
    echo "building the Node 24 root in the background (once; log: $root_log)"
    nice -n 10 ionice -c 2 -n 7 bash "$root_script" build >"$root_log" 2>&1 &
    builder=$!
  fi
fi

if [[ $runtimes == *,host,* ]]; then
  echo "== the suite on this machine's Node $(node --version)"
  npx vitest run "$@" || status=1
fi

if [[ $runtimes == *,node24-root,* ]]; then
  if [ -n "$builder" ]; then
    started=$SECONDS
    wait "$builder" || { cat "$root_log" >&2; exit 1; }
    builder=""
    echo "(waited $((SECONDS - started)) s for the Node 24 root: $(tail -1 "$root_log"))"
  fi
  echo "== the suite on Node 24 in the Debian 13 root ($(bash "$root_script" path))"
  bash "$root_script" run node node_modules/vitest/vitest.mjs run "$@" || status=1
fi
exit "$status"
