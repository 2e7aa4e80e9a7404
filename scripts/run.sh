#!/bin/sh
# The main job. Set-up (packages, configure, build), then the job itself.
# Until `hone optimize` lands, it runs the tour of what the library can do so far.
set -eu
cd "$(dirname "$0")/.."
export HONE_BUILD_DIR="${HONE_BUILD_DIR:-build}"
./scripts/setup.sh
"$HONE_BUILD_DIR/examples/hone_tour"
