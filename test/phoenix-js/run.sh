#!/usr/bin/env bash
# Runs phoenix.js's own unit tests (assets/test/*_test.js, with its jest + jsdom + mock-socket
# setup) against cinder/client: a scratch copy of a phoenix checkout whose assets/js/phoenix is
# replaced by modules re-exporting this repository's built client (dist/client).
#
#   test/phoenix-js/run.sh <phoenix checkout, or its git dir> [jest args...]
#
# Needs network access for `npm install` in the scratch directory (PHOENIX_JS_TESTS_DIR, else a
# new temporary one). Not part of `npm test`, which runs offline.
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 <phoenix checkout or git dir> [jest args...]" >&2
  exit 2
fi
source_dir=$(cd "$1" && pwd)
shift
repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=${PHOENIX_JS_TESTS_DIR:-$(mktemp -d)}
client="$repo/dist/client"

if [ -d "$source_dir/.git" ] || [ -f "$source_dir/.git" ]; then
  git_dir=$(git -C "$source_dir" rev-parse --absolute-git-dir)
else
  git_dir=$source_dir
fi

[ -f "$client/index.js" ] || (cd "$repo" && npm run build >/dev/null)

mkdir -p "$scratch"
rm -rf "$scratch/assets"
git --git-dir="$git_dir" archive HEAD assets package.json | tar -x -C "$scratch"

cd "$scratch"
# Only the test tooling from phoenix's devDependencies (linters and doc tools are not needed).
node -e '
  const fs = require("fs");
  const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
  const keep = ["jest", "jest-environment-jsdom", "jsdom", "mock-socket"];
  pkg.devDependencies = Object.fromEntries(Object.entries(pkg.devDependencies || {}).filter(([name]) => keep.includes(name)));
  delete pkg.scripts;
  fs.writeFileSync("package.json", JSON.stringify(pkg, null, 2));
'
# phoenix's jest.config.js, minus what does not matter here: jsdom at https://example.com, no transform.
cat > jest.config.cjs <<'JEST'
module.exports = {
  testEnvironment: "jest-environment-jsdom",
  testEnvironmentOptions: { url: "https://example.com" },
  testRegex: "/assets/test/.*_test\\.js$",
  transform: {},
};
JEST
[ -d node_modules/jest ] || npm install --no-audit --no-fund --loglevel=error

# assets/js/phoenix becomes the client under test; the tests import ".", "./constants" and "./ajax".
rm -rf assets/js/phoenix
mkdir -p assets/js/phoenix
echo "export * from \"$client/index.js\"" > assets/js/phoenix/index.js
echo "export * from \"$client/constants.js\"" > assets/js/phoenix/constants.js
echo "export { Ajax as default } from \"$client/ajax.js\"" > assets/js/phoenix/ajax.js

exec node --experimental-vm-modules node_modules/jest/bin/jest.js --config jest.config.cjs \
  assets/test/channel_test.js assets/test/socket_test.js assets/test/presence_test.js \
  assets/test/serializer_test.js assets/test/socket_http_test.js assets/test/longpoll_test.js "$@"
