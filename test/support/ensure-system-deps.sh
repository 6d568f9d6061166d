#!/usr/bin/env bash
# The test suite needs redis-server and redis-cli (cluster tests spawn their own servers, and a
# three-master Redis Cluster, on free ports), and Debian's Chromium at /usr/bin/chromium (the
# browser tests drive it headless with playwright-core), and python3 (the backend hooks' example
# backend, docs/examples/hooks_backend.py, runs for real). Installs what is missing with apt-get
# (one update for all) when running as root on Debian/Ubuntu; otherwise says how.
set -euo pipefail
have_redis() { command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; }
have_chromium() { [ -x /usr/bin/chromium ]; }
have_python() { command -v python3 >/dev/null 2>&1; }

missing=()
have_redis || missing+=(redis-server)
have_chromium || missing+=(chromium)
have_python || missing+=(python3)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "${missing[*]} not found: installing with apt-get (needed by the cluster, browser and backend hooks tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Debian may start a redis system service; the tests never use it (each spawns its own).
  apt-get install -y -qq "${missing[@]}" >/dev/null
  have_redis && have_chromium && have_python && exit 0
fi
status=0
if ! have_redis; then
  echo "The cluster tests need redis-server and redis-cli. Install them with: sudo apt-get install -y redis-server" >&2
  status=1
fi
if ! have_chromium; then
  echo "The browser tests need Chromium at /usr/bin/chromium. Install it with:" >&2
  echo "sudo apt-get install -y chromium" >&2
  status=1
fi
if ! have_python; then
  echo "The backend hooks example test needs python3. Install it with: sudo apt-get install -y python3" >&2
  status=1
fi
exit "$status"
