#!/bin/sh
# Installs the Debian packages of scripts/apt-packages.txt that are missing (quick and
# idempotent when all are present), then configures and builds hone in $HONE_BUILD_DIR
# (default: build; only the targets of $HONE_BUILD_TARGETS when set). Extra arguments go to
# CMake's configure step. Run as root (or with sudo).
set -eu
cd "$(dirname "$0")/.."

missing=""
for pkg in $(grep -v '^#' scripts/apt-packages.txt); do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
if [ -n "$missing" ]; then
    echo "setup: installing$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi

build="${HONE_BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# HONE_BUILD_TARGETS: only these targets (default: all).
cmake --build "$build" --parallel "$(nproc)" ${HONE_BUILD_TARGETS:+--target $HONE_BUILD_TARGETS}
