#!/usr/bin/env bash
# The test command (README "Set-up"): installs what is missing, checks format and layering,
# builds the `ci` preset (RelWithDebInfo, ASan+UBSan, -Werror) and runs every test but soak.
# Ends with ctest's summary. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
baton_install_deps

echo "== format (clang-format --dry-run --Werror)"
git ls-files '*.h' '*.cpp' | xargs clang-format --dry-run --Werror

echo "== layering: crdt/ is pure"
if grep -rnE '#include *[<"](rocksdb|zmq|sodium|nlohmann|daemon/|client/|tools/)' crdt/; then
  echo "crdt/ must not include I/O libraries, daemon/, client/ or tools/" >&2
  exit 1
fi

echo "== build (preset ci)"
cmake --preset ci >/dev/null
cmake --build --preset ci -j "$(nproc)"

echo "== test (ctest -LE soak)"
cd build/ci
ctest --output-on-failure -LE soak -j 2 --timeout 600
