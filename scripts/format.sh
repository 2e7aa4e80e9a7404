#!/bin/sh
# Formats every C/C++ source of the tree in place with the repository's .clang-format.
set -eu
cd "$(dirname "$0")/.."
git ls-files '*.c' '*.h' '*.cpp' '*.hpp' | xargs -r clang-format -i
git ls-files --others --exclude-standard '*.c' '*.h' '*.cpp' '*.hpp' | xargs -r clang-format -i
