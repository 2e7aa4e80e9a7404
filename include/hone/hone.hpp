// hone/hone.hpp — the C++ API, all of it. Include the parts you use for faster builds.
#pragma once

#include "hone/core/dtype.hpp"
#include "hone/core/error.hpp"
#include "hone/core/half.hpp"
#include "hone/core/shape.hpp"
#include "hone/core/tensor.hpp"
#include "hone/core/threads.hpp"
#include "hone/core/version.hpp"

// kernels
#include "hone/kernels/cluster.hpp"
#include "hone/kernels/conv.hpp"
#include "hone/kernels/convert.hpp"
#include "hone/kernels/error.hpp"
#include "hone/kernels/gemm.hpp"
#include "hone/kernels/isa.hpp"
#include "hone/kernels/norms.hpp"
#include "hone/kernels/palettized.hpp"
#include "hone/kernels/peak.hpp"
#include "hone/kernels/quantize.hpp"
#include "hone/kernels/reduce.hpp"
#include "hone/kernels/sparsity.hpp"
#include "hone/kernels/weight_only.hpp"

// algorithms: quantizer
#include "hone/quantize/error_report.hpp"
#include "hone/quantize/gptq.hpp"
#include "hone/quantize/quant_spec.hpp"
#include "hone/quantize/quantized_tensor.hpp"
#include "hone/quantize/quantizer.hpp"

#include "hone/quantize/bias_correction.hpp"
#include "hone/quantize/calibrator.hpp"
#include "hone/quantize/smooth_quant.hpp"

// algorithms: pruner
#include "hone/prune/pruner.hpp"
#include "hone/prune/schedule.hpp"
#include "hone/prune/sparse_storage.hpp"

// algorithms: clusterer
#include "hone/cluster/clusterer.hpp"
#include "hone/cluster/kmeans1d.hpp"

// algorithms: retraining
#include "hone/graph/trainable_graph.hpp"
#include "hone/graph/trainer.hpp"
#include "hone/retrain/loss.hpp"
#include "hone/retrain/lsq.hpp"

// models, I/O and the graph executor
#include "hone/graph/executor.hpp"
#include "hone/io/onnx.hpp"
#include "hone/io/qdq.hpp"
#include "hone/io/safetensors.hpp"
#include "hone/model/model.hpp"

// data, assurance
#include "hone/data/arrays.hpp"
#include "hone/data/data_spec.hpp"
#include "hone/data/dataset.hpp"
#include "hone/graph/runner.hpp"
#include "hone/io/digest.hpp"
#include "hone/ledger/identity.hpp"
#include "hone/ledger/ledger.hpp"
#include "hone/metrics/layer_error.hpp"
#include "hone/metrics/metric_collector.hpp"
#include "hone/metrics/performance.hpp"
#include "hone/pipeline/optimize.hpp"
#include "hone/policy/policy.hpp"
#include "hone/validate/language_model.hpp"
#include "hone/validate/representativeness.hpp"
#include "hone/validate/statistics.hpp"
#include "hone/validate/validator.hpp"
