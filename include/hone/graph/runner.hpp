// hone/graph/runner.hpp — anything that can run a model on a batch.
//
// Validation never requires hone's own executor: an inference engine implements runner (or,
// through the C ABI, passes a callback) and hone measures it exactly as it measures its own.
#pragma once

#include "hone/core/export.hpp"
#include "hone/core/tensor.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace hone {

class HONE_EXPORT runner {
public:
    virtual ~runner();
    /// A short name for reports ("baseline f32", "candidate int8").
    virtual std::string name() const = 0;
    /// Runs one batch: inputs f32 [batch, ...] → outputs f32 [batch, classes] (logits).
    virtual tensor run(const_tensor_view inputs) = 0;
    /// Size of the model in bytes (file or packed weights); 0 when unknown.
    virtual std::uint64_t model_bytes() const { return 0; }

    /// Arithmetic of one sample in the GEMM/conv work (2 per multiply-accumulate), for
    /// utilisation figures; ops 0 = unknown. int8: whether that work runs in int8.
    struct work {
        double ops_per_sample = 0;
        bool int8 = false;
    };
    virtual work work_per_sample() const { return {}; }
};

/// A runner around a function, for engines with their own executor and for tests.
class HONE_EXPORT function_runner final : public runner {
public:
    using function = std::function<tensor(const_tensor_view)>;
    function_runner(std::string name, function fn, std::uint64_t model_bytes = 0, work w = {});
    std::string name() const override { return name_; }
    tensor run(const_tensor_view inputs) override { return fn_(inputs); }
    std::uint64_t model_bytes() const override { return bytes_; }
    work work_per_sample() const override { return work_; }

private:
    std::string name_;
    function fn_;
    std::uint64_t bytes_;
    work work_;
};

} // namespace hone
