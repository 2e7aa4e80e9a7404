// The C ABI handles more than one section reads (one definition each: the quantized tensor and
// the clustered tensor are made by the quantizer / clusterer sections and consumed by the model
// section's packed executor weights and QDQ export; models are made by the model section and
// trained by the fine-tuning one), and the quant-spec conversion they share.
#pragma once

#include "hone/cluster/clusterer.hpp"
#include "hone/hone.h"
#include "hone/model/model.hpp"
#include "hone/quantize/quant_spec.hpp"
#include "hone/quantize/quantized_tensor.hpp"

#include <string>
#include <vector>

struct hone_quantized_tensor {
    hone::quantized_tensor t;
};

struct hone_clustered {
    hone::palettized_tensor p;
};

struct hone_model {
    hone::model model;
    std::vector<std::string> names; // weight names by index (refreshed on change)
};

namespace hone::capi {

/// hone_quant_spec → quant_spec: struct_size, enum ranges and hone::validate, errors naming
/// `fn` and the field (prefixed by `what`, e.g. "spec" or "weight_spec").
quant_spec spec_from(const hone_quant_spec* s, const char* fn, const char* what = "spec");

} // namespace hone::capi
