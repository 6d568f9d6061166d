#!/usr/bin/env bash
# A Debian 13 ("trixie", glibc 2.41) root file system with the npm registry's Node 24, in which the
# suite, `npm start` and the benchmarks run on Node 24 with the uWS build that needs glibc >= 2.38
# (docs/runtimes.md). Built once, cached on the machine outside the repository, reused after.
#
#   bash test/support/node24-root.sh build            build the root unless a complete one is cached
#   bash test/support/node24-root.sh run CMD [ARG...]  run CMD in the root, in this repository
#   bash test/support/node24-root.sh path             print where the root is (or will be)
#
# The repository is bind-mounted at its own path inside the root, so node_modules/ and dist/ made
# on this machine are used as they are (nothing is installed into the repository from inside).
# Needs root (debootstrap, mount, chroot) and the `debootstrap` package; as root on Debian it is
# installed when missing. The Debian archive is the one this machine's apt sources name.
#
# Settings: CINDER_NODE24_ROOT (where the root lives; default /var/cache/cinder-node24-root),
# CINDER_ROOT_CHROMIUM=0 (build without Chromium: the browser tests then fail in the root).
set -euo pipefail

ROOT="${CINDER_NODE24_ROOT:-/var/cache/cinder-node24-root}"
SUITE=trixie
NODE_PACKAGE=node@24
NPM_PACKAGE=npm@11
# Installed with apt-get in the root (debootstrap's --include resolves no alternatives):
# redis-server (and redis-cli) for the cluster tests; gcc and libc6-dev for the benchmark's native
# load clients, which the bench smoke test builds; procps; python3 for the backend hooks' example
# backend and the webhooks' verification example; chromium for the browser tests.
PACKAGES="redis-server gcc libc6-dev procps python3"
if [ "${CINDER_ROOT_CHROMIUM:-1}" != "0" ]; then PACKAGES="$PACKAGES chromium"; fi
# A root built from another recipe is built anew (the recipe is stored inside it).
RECIPE="suite=$SUITE packages=$PACKAGES node=$NODE_PACKAGE npm=$NPM_PACKAGE v1"

say() { echo "node24-root: $*" >&2; }
die() { say "$*"; exit 1; }

need_root() {
  [ "$(id -u)" = "0" ] && return 0
  die "building and entering the Node 24 root needs root (debootstrap, mount, chroot): run 'sudo bash test/support/node24-root.sh build' once, then 'sudo npm test'; or run only this machine's Node with CINDER_TEST_RUNTIMES=host npm test"
}

complete() { [ -f "$ROOT/.cinder-root" ] && [ "$(cat "$ROOT/.cinder-root")" = "$RECIPE" ]; }

# The first Debian archive of this machine's apt sources (deb822 .sources or one-line
# sources.list) that serves Debian's main suites, not its security updates.
debian_archive() {
  local files=()
  [ -f /etc/apt/sources.list ] && files+=(/etc/apt/sources.list)
  local f
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do [ -f "$f" ] && files+=("$f"); done
  [ "${#files[@]}" -gt 0 ] || return 1
  awk '
    function take(uri) { if (uri ~ /^https?:\/\// && uri !~ /security/) { print uri; found = 1; exit } }
    /^[[:space:]]*#/ { next }
    /^deb[[:space:]]/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/ && $i !~ /=/) { take($i); break } ; next }
    /^Types:/ { isdeb = ($0 ~ /[[:space:]]deb([[:space:]]|$)/) }
    /^URIs:/ && isdeb { for (i = 2; i <= NF; i++) take($i) }
    /^$/ { isdeb = 0 }
    END { if (!found) exit 1 }
  ' "${files[@]}"
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and there is no apt-get to install it: install debootstrap"
  say "installing debootstrap with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

# Node 24 and npm from the npm registry, installed with this machine's npm into the root's /opt.
install_node() {
  local dir="$1/opt/node24"
  mkdir -p "$dir"
  # node@24 fetches its platform binary in a preinstall script: allowed for it alone.
  echo '{"private":true,"allowScripts":{"node":true}}' >"$dir/package.json"
  (cd "$dir" && npm install --no-audit --no-fund --loglevel=error "$NODE_PACKAGE" "$NPM_PACKAGE" >/dev/null)
  [ -x "$dir/node_modules/node/bin/node" ] || die "npm did not install $NODE_PACKAGE's binary into $dir"
  ln -sf /opt/node24/node_modules/node/bin/node "$1/usr/local/bin/node"
  ln -sf /opt/node24/node_modules/npm/bin/npm-cli.js "$1/usr/local/bin/npm"
  ln -sf /opt/node24/node_modules/npm/bin/npx-cli.js "$1/usr/local/bin/npx"
}

build() {
  need_root
  mkdir -p "$(dirname "$ROOT")"
  exec 9>"$ROOT.lock"
  flock 9 # another build of the same root finishes first
  if complete; then return 0; fi
  ensure_debootstrap
  local archive
  archive="$(debian_archive)" || die "no Debian archive found in /etc/apt/sources.list or /etc/apt/sources.list.d/"
  # Leftovers of interrupted builds are never used: only a finished build is renamed into place.
  rm -rf "$ROOT".building.*
  local tmp="$ROOT.building.$$"
  say "building a Debian $SUITE root with $PACKAGES from $archive, then $NODE_PACKAGE (a few minutes, once)"
  local started=$SECONDS
  debootstrap --variant=minbase "$SUITE" "$tmp" "$archive" >"$tmp.log" 2>&1 ||
    { tail -20 "$tmp.log" >&2; die "debootstrap failed (log: $tmp.log)"; }
  # No service starts inside the root: the tests start their own redis-servers.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  chmod +x "$tmp/usr/sbin/policy-rc.d"
  # shellcheck disable=SC2086 # PACKAGES is a list
  in_root "$tmp" / /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES && apt-get clean" >>"$tmp.log" 2>&1 ||
    { tail -20 "$tmp.log" >&2; die "apt-get in the root failed (log: $tmp.log)"; }
  rm -f "$tmp.log"
  install_node "$tmp"
  cp /etc/hosts "$tmp/etc/hosts"
  echo "$RECIPE" >"$tmp/.cinder-root"
  rm -rf "$ROOT.old"
  [ -e "$ROOT" ] && mv "$ROOT" "$ROOT.old"
  mv "$tmp" "$ROOT"
  rm -rf "$ROOT.old"
  say "built $ROOT in $((SECONDS - started)) s: $(chroot "$ROOT" /usr/local/bin/node --version), $(chroot "$ROOT" ldd --version | head -1)"
}

# CMD as root in ROOT, in the folder DIR (bind-mounted at its own path unless it is /), in a
# private mount namespace (its mounts vanish with it, whatever ends the run), with the trap for
# the ordinary case: /proc, /dev (with /dev/shm for Chromium), /sys and a fresh /tmp.
in_root() {
  local root="$1" dir="$2"
  shift 2
  unshare --mount --propagation private -- bash -c '
    set -euo pipefail
    root="$1"; dir="$2"; npm_cache="$3"; shift 3
    mounted=()
    cleanup() { local i; for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done; }
    trap cleanup EXIT INT TERM
    mnt() { local target="${*: -1}"; mkdir -p "$target"; mount "$@"; mounted+=("$target"); }
    mnt -t proc proc "$root/proc"
    mnt --rbind /dev "$root/dev"
    mnt --rbind /sys "$root/sys"
    mnt -t tmpfs tmpfs "$root/tmp"
    [ "$dir" = / ] || mnt --bind "$dir" "$root$dir"
    # The host'"'"'s npm cache, so that an offline install in the root (the packed-package test) finds
    # the tarballs `npm ci` fetched on the host.
    [ -z "$npm_cache" ] || [ ! -d "$npm_cache" ] || mnt --bind "$npm_cache" "$root/root/.npm"
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
    status=0
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
      TERM="${TERM:-dumb}" CI="${CI:-}" LANG=C.UTF-8 \
      /bin/bash -c "cd \"\$0\" && exec \"\$@\"" "$dir" "$@" || status=$?
    exit "$status"
  ' in-root "$root" "$dir" "$(npm config get cache 2>/dev/null || true)" "$@"
}

run() {
  need_root
  complete || die "no complete root at $ROOT: bash test/support/node24-root.sh build"
  [ "$#" -gt 0 ] || die "usage: node24-root.sh run CMD [ARG...]"
  in_root "$ROOT" "$(pwd -P)" "$@"
}

case "${1:-}" in
  build) build ;;
  run) shift; run "$@" ;;
  path) echo "$ROOT" ;;
  *) die "usage: node24-root.sh build | run CMD [ARG...] | path" ;;
esac
