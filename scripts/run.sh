#!/bin/sh
# The main job: set-up (packages, configure, build), then `hone optimize` on Fashion-MNIST:
# the committed baseline MLP (tests/fixtures/fashion_mnist/mlp.onnx, made by
# scripts/make_fixtures.py), the int8 preset calibrated on 2,048 training images, validation on
# the 10,000 test images, the medium risk tier, a signed ledger record and a report.
# Environment: HONE_OUT (default out/fashion-mnist), HONE_RECIPE (default int8), HONE_POLICY
# (default medium). Extra arguments go to `hone optimize` (e.g. --json).
# Exit code: hone's (0 approved, 10 needs sign-off, 20 rejected, 1/2/… errors; docs/cli.md).
set -eu
cd "$(dirname "$0")/.."
export HONE_BUILD_DIR="${HONE_BUILD_DIR:-build}"
./scripts/setup.sh
hone="$HONE_BUILD_DIR/src/cli/hone"
out="${HONE_OUT:-out/fashion-mnist}"
key="out/hone-identity.pem"
mkdir -p out
if [ ! -f "$key" ]; then
    "$hone" keygen --out "$key" >/dev/null
    echo "created signing key $key"
fi
set +e
"$hone" optimize tests/fixtures/fashion_mnist/mlp.onnx \
    --recipe "${HONE_RECIPE:-int8}" \
    --calib fashion-mnist:train:2048 --eval fashion-mnist:test \
    --policy "${HONE_POLICY:-medium}" \
    --out "$out/artifact" --ledger "$out/ledger.jsonl" --report "$out/report" \
    --actor run.sh --key "$key" "$@"
code=$?
set -e
# With --json stdout holds exactly one JSON object: the paths go to stderr then.
exec 3>&1
case " $* " in *" --json "*) exec 3>&2 ;; esac
if [ "$code" -le 20 ] && [ -f "$out/ledger.jsonl" ]; then
    echo >&3
    echo "report:   $out/report/report.html (data: $out/report/report.json)" >&3
    case " $* " in
    *" --format hone "*) echo "artifact: $out/artifact/model.onnx + $out/artifact/weights.safetensors (hone's packed weights)" >&3 ;;
    *) echo "artifact: $out/artifact/model.onnx (standard ONNX, runs compressed in ONNX Runtime)" >&3 ;;
    esac
    echo "ledger:   $out/ledger.jsonl (check: $hone ledger verify $out/ledger.jsonl;" >&3
    echo "          $hone check $out/artifact/model.onnx --ledger $out/ledger.jsonl)" >&3
fi
exit "$code"
