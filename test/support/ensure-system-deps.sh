#!/usr/bin/env bash
# The test suite needs redis-server and redis-cli (cluster tests spawn their own servers, and a
# three-master Redis Cluster, on free ports). Installs them with apt-get when running as root on
# Debian/Ubuntu; otherwise says how.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server/redis-cli not found: installing them with apt-get (needed by the cluster tests)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq redis-server >/dev/null
  # Debian may start a system service; the tests never use it (each spawns its own).
  command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && exit 0
fi
echo "The cluster tests need redis-server and redis-cli. Install them with: sudo apt-get install -y redis-server" >&2
exit 1
