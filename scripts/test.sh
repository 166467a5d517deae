#!/usr/bin/env bash
# The test command (README "Set-up"): installs what is missing, checks format and layering,
# builds the `ci` preset (g++, RelWithDebInfo, ASan+UBSan, -Werror), compiles everything with
# clang 14 too (preset `clang`: ASan+UBSan, -Werror, with the libFuzzer targets), runs each
# fuzzer for 30 s on its seed corpus, and runs every test of the `ci` build but soak.
# Ends with ctest's summary. Usage: bash scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/deps.sh
# faketime: clock_e2e_test runs batond under libfaketime. chromium: bundle_test opens the
# audit report in a headless browser.
baton_install_deps clang libclang-rt-14-dev faketime chromium

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

echo "== build (preset clang: clang 14, ASan+UBSan, -Werror, Debug, libFuzzer targets)"
cmake --preset clang >/dev/null
cmake --build --preset clang -j "$(nproc)"

echo "== fuzz (ctest -L fuzz in build/clang: each target replays its corpus, then 30 s)"
(cd build/clang && ctest --output-on-failure -L fuzz -j 2 --timeout 300)

echo "== test (ctest -LE soak)"
cd build/ci
ctest --output-on-failure -LE soak -j 2 --timeout 600
