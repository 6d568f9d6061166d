#!/usr/bin/env bash
# The test suite needs a redis-server binary (cluster tests spawn their own on a free port).
# Installs it with apt-get when running as root on Debian/Ubuntu; otherwise says how.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server not found: installing it with apt-get (needed by the cluster tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq redis-server >/dev/null
  # Debian may start a system service; the tests never use it (each spawns its own).
  command -v redis-server >/dev/null 2>&1 && exit 0
fi
echo "The cluster tests need redis-server. Install it with: sudo apt-get install -y redis-server" >&2
exit 1
