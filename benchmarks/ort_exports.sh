#!/bin/sh
# ONNX Runtime speed of hone's exports (a benchmark, not a test; docs/onnxruntime.md): for the
# Fashion-MNIST MLP and CNN fixtures, `hone optimize` writes each preset's model into a temp
# folder, then benchmarks/ort_bench.js times the f32 fixture and every export in ONNX Runtime
# (CPU, 2 threads, batch 1 and 64, runs alternating between the models, p50) and prints
# ms, the ratio to f32 and each export's top-1 agreement with f32 on 1000 test images.
#   benchmarks/ort_exports.sh [EXTRA.onnx ...]   extra files (e.g. a to_qdq export, see
#                                                 docs/onnxruntime.md) join the table of the
#                                                 model whose name they start with (mlp / cnn)
# Environment: HONE (default build/src/cli/hone), PRESETS, ITERS (default 300), THREADS (2),
# MAKE_WIDE_CNN (default build/benchmarks/make_wide_cnn).
set -eu
cd "$(dirname "$0")/.."
hone="${HONE:-build/src/cli/hone}"
presets="${PRESETS:-int8 int8-dynamic int4 cluster16 sparse50 compact}"
[ -x "$hone" ] || { echo "ort_exports: $hone not built (cmake --build build --target hone_cli)" >&2; exit 1; }
[ -f tests/ort/node_modules/onnxruntime-node/package.json ] ||
    { echo "ort_exports: ONNX Runtime not installed: run scripts/setup.sh (or npm ci --ignore-scripts in tests/ort)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo '{"tier": "low", "max_accuracy_drop": 1, "max_slice_accuracy_drop": 1, "min_agreement": 0, "max_latency_regression": null, "min_slice_samples": 100000}' >"$tmp/policy.json"

printf 'model\tbatch\texport\tbytes\tp50_ms\tvs_f32\ttop1_agree\n'
for m in mlp cnn; do
    case $m in mlp) sample=784 ;; cnn) sample=1x28x28 ;; esac
    mkdir -p "$tmp/$m"
    models="tests/fixtures/fashion_mnist/$m.onnx"
    for p in $presets; do
        "$hone" optimize "tests/fixtures/fashion_mnist/$m.onnx" --recipe "$p" \
            --calib fashion-mnist:train:512 --eval fashion-mnist:test:500 --policy "$tmp/policy.json" \
            --out "$tmp/$m/$m-$p.onnx" --ledger "$tmp/ledger.jsonl" --latency-batch 1 --repeats 1 \
            -q >/dev/null
        models="$models $tmp/$m/$m-$p.onnx"
    done
    for extra in "$@"; do
        case $(basename "$extra") in "$m"*) models="$models $extra" ;; esac
    done
    node benchmarks/ort_bench.js --label "$m" --sample $sample --threads "${THREADS:-2}" \
        --iters "${ITERS:-300}" --batches 1,64 $models
done
# A CNN as wide as deployed ones (64/128 channels, 3x32x32; benchmarks/export/make_wide_cnn.cpp)
# and its int8 QDQ export: the committed CNN's 8/16 channels are too narrow for int8 to pay off.
wide="${MAKE_WIDE_CNN:-build/benchmarks/make_wide_cnn}"
if [ -x "$wide" ]; then
    "$wide" "$tmp" >/dev/null
    node benchmarks/ort_bench.js --label wide_cnn --sample 3x32x32 --threads "${THREADS:-2}" \
        --iters "${ITERS:-300}" --batches 1,64 "$tmp/wide_cnn.onnx" "$tmp/wide_cnn-int8.onnx"
else
    echo "ort_exports: $wide not built (cmake --build build --target make_wide_cnn): wide CNN skipped" >&2
fi
