#!/bin/sh
# Installs the Debian packages of scripts/apt-packages.txt that are missing (quick and
# idempotent when all are present) and ONNX Runtime for the tests (tests/ort), then configures and builds hone in $HONE_BUILD_DIR
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

# ONNX Runtime (npm onnxruntime-node, pinned in tests/ort/package-lock.json): the tests and
# benchmarks run hone's exported ONNX files in it. Its install script only fetches GPU providers
# (not reachable here, not needed): --ignore-scripts. Without it the tests that need it fail and
# say how to install it; set-up goes on.
if ! command -v npm >/dev/null 2>&1; then
    echo "setup: installing nodejs npm"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm ||
        echo "setup: warning: nodejs/npm could not be installed (ONNX Runtime tests will fail)" >&2
fi
if command -v npm >/dev/null 2>&1 &&
    ! cmp -s tests/ort/package-lock.json tests/ort/node_modules/.hone-installed-lock; then
    echo "setup: installing ONNX Runtime for the tests (npm ci in tests/ort)"
    if (cd tests/ort && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error); then
        cp tests/ort/package-lock.json tests/ort/node_modules/.hone-installed-lock
    else
        echo "setup: warning: npm ci in tests/ort failed (ONNX Runtime tests will fail)" >&2
    fi
fi

build="${HONE_BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# HONE_BUILD_TARGETS: only these targets (default: all).
cmake --build "$build" --parallel "$(nproc)" ${HONE_BUILD_TARGETS:+--target $HONE_BUILD_TARGETS}
