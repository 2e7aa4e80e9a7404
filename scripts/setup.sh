#!/bin/sh
# Installs the Debian packages of scripts/apt-packages.txt that are missing (quick and
# idempotent when all are present; a virtual package counts as present when an installed
# package provides it, e.g. npm inside NodeSource's nodejs), installs the tests' npm packages
# (ONNX Runtime into tests/ort, the CycloneDX schema and ajv into tests/cyclonedx: npm ci,
# skipped while a lock file is unchanged), then
# configures and builds hone in $HONE_BUILD_DIR (default: build; only the targets of
# $HONE_BUILD_TARGETS when set). Extra arguments go to CMake's configure step. Run as root (or
# with sudo).
set -eu
cd "$(dirname "$0")/.."

missing=""
provided=$(dpkg-query -W -f='${db:Status-Abbrev} ${Provides}\n' 2>/dev/null | sed -n 's/^ii  *//p' |
    tr ',' '\n' | sed 's/(.*//; s/ //g; s/:.*//')
for pkg in $(grep -v '^#' scripts/apt-packages.txt); do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" &&
        ! echo "$provided" | grep -qx "$pkg"; then
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

# npm packages for the tests, each folder installed with npm ci (skipped while its lock file is
# unchanged): tests/ort holds ONNX Runtime (onnxruntime-node, CPU binaries inside the package)
# for the tests that run hone's exports in it; tests/cyclonedx the published CycloneDX JSON
# schemas (@cyclonedx/cyclonedx-library) and the ajv validator for the BOM test; tests/llama
# real llama.cpp (node-llama-cpp 3.21.1 with its prebuilt CPU binaries, @node-llama-cpp/linux-x64)
# for the tests that load hone's GGUF files.
# --ignore-scripts: onnxruntime-node's install script only fetches GPU libraries, and
# node-llama-cpp's would build llama.cpp from source; --omit=optional (tests/llama only) leaves
# out node-llama-cpp's GPU builds (CUDA, Vulkan: 650 MB). A failure is a warning here; those tests
# then fail naming this step.
for dir in tests/ort tests/cyclonedx tests/llama; do
    stamp=$dir/node_modules/.hone-lock.sha256
    omit=""
    [ $dir = tests/llama ] && omit="--omit=optional"
    lock_sum=$(sha256sum $dir/package-lock.json | cut -d' ' -f1)
    if [ "$(cat $stamp 2>/dev/null)" != "$lock_sum" ]; then
        echo "setup: installing the npm packages of $dir (npm ci)"
        if (cd $dir && npm ci --ignore-scripts $omit --no-audit --no-fund --loglevel=error); then
            echo "$lock_sum" >$stamp
        else
            echo "setup: WARNING: npm ci in $dir failed; its tests will fail until" \
                "'cd $dir && npm ci --ignore-scripts $omit' succeeds (needs nodejs, npm and the npm registry)" >&2
        fi
    fi
done

build="${HONE_BUILD_DIR:-build}"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
# HONE_BUILD_TARGETS: only these targets (default: all).
cmake --build "$build" --parallel "$(nproc)" ${HONE_BUILD_TARGETS:+--target $HONE_BUILD_TARGETS}
