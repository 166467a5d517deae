# Sourced by scripts/test.sh and scripts/demo.sh: installs the Debian 12 packages baton builds
# with, when any is missing. Needs root (or sudo). Everything comes from Debian's archive.
BATON_PACKAGES=(
  build-essential cmake ninja-build pkg-config clang-format
  librocksdb-dev libzmq3-dev cppzmq-dev libcereal-dev libboost-test-dev libsodium-dev
  libcli11-dev libhowardhinnant-date-dev nlohmann-json3-dev libspdlog-dev tzdata libxlsxwriter-dev
)

# Extra packages may be named as arguments (the tests also build with clang).
baton_install_deps() {
  local missing=()
  for p in "${BATON_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  echo "baton: installing missing packages: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
