#!/bin/sh
# The main job. Set-up (packages, configure, build), then the job itself on its embedded
# default: Fashion-MNIST, a baseline MLP trained here, an int8 candidate, validation, a
# risk-tier decision, a signed ledger and a report. Extra arguments go to the job
# (--out DIR, --tier low|medium|high|critical, --epochs N).
# Until `hone optimize` lands (CLI issue), this runs examples/fashion_mnist.
set -eu
cd "$(dirname "$0")/.."
export HONE_BUILD_DIR="${HONE_BUILD_DIR:-build}"
./scripts/setup.sh
"$HONE_BUILD_DIR/examples/hone_fashion_mnist" "$@"
