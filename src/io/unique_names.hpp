// src/io/unique_names.hpp — fresh value and node names while rewriting one model (internal to
// the ONNX writers: to_qdq, to_dynamic_int8, to_matmul_nbits).
#pragma once

#include "hone/model/model.hpp"

#include <fmt/format.h>

#include <set>
#include <string>

namespace hone::io_detail {

/// Names not used by the model nor handed out before: "stem", "stem_1", ...
struct namer {
    const model& m;
    std::set<std::string> used;
    std::string operator()(const std::string& stem) {
        std::string name = m.unique_name(stem);
        for (int k = 1; used.count(name); ++k)
            name = m.unique_name(fmt::format("{}_{}", stem, k));
        used.insert(name);
        return name;
    }
};

} // namespace hone::io_detail
