#!/bin/sh
# hone's graph executor against ONNX Runtime on the same models (a benchmark, not a test):
# the Fashion-MNIST MLP and CNN fixtures and the corpus' resnet18, mobilenet_v2 and
# mobilenet_v3_small (3x64x64), each in f32 and as the int8 QDQ file `hone optimize --recipe
# int8` writes; batch 1 and 64, 2 threads. hone runs through build/benchmarks/hone_time (the
# executor from C++; int8: exec_precision::int8_static on the QDQ file), ONNX Runtime through
# ort_time.js (onnxruntime-node in tests/ort, all graph optimizations). The two alternate in
# ROUNDS rounds of ITERS calls each (machine load hits both alike); p50 over all calls.
# Prints one row per model, precision and batch: both p50s and hone/ORT (< 1: hone faster).
#   benchmarks/hone_vs_ort/hone_vs_ort.sh [MODEL ...]   (names: mlp cnn resnet18 mobilenet_v2
#                                                        mobilenet_v3_small; default all)
# Environment: HONE (build/src/cli/hone), HONE_TIME (build/benchmarks/hone_time), ROUNDS (3),
# ITERS (20), THREADS (2), BATCHES ("1 64"), PRECISIONS ("f32 int8"), QDQ_DIR (where the int8
# files are written and reused; default a temp folder).
set -eu
cd "$(dirname "$0")/../.."
hone="${HONE:-build/src/cli/hone}"
timer="${HONE_TIME:-build/benchmarks/hone_time}"
rounds="${ROUNDS:-3}"
iters="${ITERS:-20}"
threads="${THREADS:-2}"
[ -x "$hone" ] || { echo "hone_vs_ort: $hone not built (cmake --build build --target hone_cli)" >&2; exit 1; }
[ -x "$timer" ] || { echo "hone_vs_ort: $timer not built (cmake --build build --target hone_time)" >&2; exit 1; }
[ -f tests/ort/node_modules/onnxruntime-node/package.json ] ||
    { echo "hone_vs_ort: ONNX Runtime not installed: npm ci --ignore-scripts in tests/ort" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
qdq="${QDQ_DIR:-$tmp}"
mkdir -p "$qdq"
echo '{"tier": "low", "max_accuracy_drop": 1, "max_slice_accuracy_drop": 1, "min_agreement": 0, "max_latency_regression": null, "min_slice_samples": 100000}' >"$tmp/policy.json"
corpus=tests/fixtures/corpus

p50() { sort -g "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

printf 'model\tprecision\tbatch\thone_ms\tort_ms\thone/ort\n'
for m in ${*:-mlp cnn resnet18 mobilenet_v2 mobilenet_v3_small}; do
    case $m in
    mlp | cnn)
        f32="tests/fixtures/fashion_mnist/$m.onnx"
        data="--calib fashion-mnist:train:512 --eval fashion-mnist:test:500"
        [ "$m" = mlp ] && sample=784 || sample=1x28x28 ;;
    *)
        f32="$corpus/$m.onnx"
        data="--calib $corpus/image64.calib.npy --eval $corpus/image64.eval.npy,$corpus/eval.labels.npy"
        sample=3x64x64 ;;
    esac
    for prec in ${PRECISIONS:-f32 int8}; do
        file=$f32
        if [ "$prec" = int8 ]; then
            file="$qdq/$m.int8.onnx"
            # shellcheck disable=SC2086
            [ -f "$file" ] || "$hone" optimize "$f32" --recipe int8 $data --policy "$tmp/policy.json" \
                --out "$file" --ledger "$tmp/ledger.jsonl" --latency-batch 1 --repeats 1 -q >/dev/null
        fi
        for b in ${BATCHES:-1 64}; do
            : >"$tmp/hone.txt"
            : >"$tmp/ort.txt"
            r=0
            while [ $r -lt "$rounds" ]; do
                "$timer" "$file" --sample $sample --batch "$b" --iters "$iters" --threads "$threads" \
                    --precision "$prec" >>"$tmp/hone.txt"
                node benchmarks/hone_vs_ort/ort_time.js "$file" --sample $sample --batch "$b" \
                    --iters "$iters" --threads "$threads" >>"$tmp/ort.txt"
                r=$((r + 1))
            done
            h=$(p50 "$tmp/hone.txt")
            o=$(p50 "$tmp/ort.txt")
            printf '%s\t%s\t%s\t%.3f\t%.3f\t%.2f\n' "$m" "$prec" "$b" "$h" "$o" "$(echo "$h $o" | awk '{print $1 / $2}')"
        done
    done
done
