// src/graph/executor_impl.hpp — the executor's plan (executor::impl) and the types its files
// share (internal, not installed). Its member functions are defined by job: plan/ (shape
// inference and folding, fusion and layout passes, build), compile/ (nodes into kernels) and
// executor.cpp (the public API and the run loop).
#pragma once

#include "hone/graph/executor.hpp"
#include "hone/kernels/conv.hpp"
#include "hone/kernels/gemm.hpp"
#include "op_table.hpp"
#include "ops/ops.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace hone {

// Named rather than anonymous: executor::impl holds these types, and its files share them.
namespace executor_detail {

using ops::optional_view;

// The buffers one run() reuses from the previous ones: kernels that overwrite their whole output
// (oneDNN conv and linear) take it from here, and a value's tensor comes back here after its
// last use, so a run at a shape already seen allocates nothing for them (no fresh pages to
// fault in, no zero-fill). Each concurrent run() has its own (it takes an idle one). It is also
// the result source of the operators a step runs (ops::result_scope): their results reuse
// buffers too.
struct tensor_pool final : ops::result_source {
    std::vector<tensor> free;
    // This run's takes per (dtype, shape): a flat list, as a plan has few distinct shapes (no
    // allocation once warm).
    std::vector<std::pair<std::pair<dtype, shape>, int>> taken;
    std::uint64_t misses = 0; // this run

    int& taken_count(dtype type, const shape& dims) {
        for (auto& [key, count] : taken)
            if (key.first == type && key.second == dims) return count;
        return taken.emplace_back(std::make_pair(type, dims), 0).second;
    }
    tensor take(dtype type, const shape& dims) override {
        ++taken_count(type, dims);
        for (auto it = free.begin(); it != free.end(); ++it)
            if (it->type() == type && it->dims() == dims) {
                tensor t = std::move(*it);
                free.erase(it);
                return t;
            }
        ++misses;
        return tensor(type, dims);
    }
    void give(tensor t) {
        if (t.nbytes() != 0) free.push_back(std::move(t));
    }
    // End of a run: keep per shape at most as many tensors as this run took (values that only
    // operators allocate are dropped, so the pool does not grow run after run).
    void trim() {
        std::size_t kept = 0;
        for (auto& t : free) {
            int& left = taken_count(t.type(), t.dims());
            if (left-- > 0) {
                if (&free[kept] != &t) free[kept] = std::move(t);
                ++kept;
            }
        }
        free.resize(kept);
        taken.clear(); // keeps its capacity
    }
};

struct run_state {
    double macs = 0;
    std::uint64_t reorders = 0;  // layout reorders the conv layers did
    tensor_pool* pool = nullptr; // set while a step whose output may come from the pool runs
    // A tensor for a kernel that overwrites all of it (its contents are unspecified).
    tensor output(dtype type, const shape& dims) {
        return pool ? pool->take(type, dims) : tensor(type, dims);
    }
};

using kernel_fn = std::function<std::vector<tensor>(std::span<const optional_view>, run_state&)>;

struct compiled {
    kernel_fn fn;
    std::string path;
    bool int8 = false;
    std::uint64_t bytes = 0; // constants held by the kernel
};

// One element of a partially known 1-D shape tensor: a number, or dim `dim` of value `of`.
struct pdim {
    bool known = false;
    std::int64_t value = 0;
    std::string of;
    std::int64_t dim = -1;
};

struct work_node {
    node n;
    std::size_t model_index = 0;
    bool relu = false;
    // Conv on the oneDNN kernel: activations fused as eltwise post-ops (after the ReLU), and
    // their names for report().
    std::vector<kernels::conv_post_op> post;
    std::vector<std::string> post_names;
    std::string residual; // Conv: a value added to its result before the post-ops (input 3)
    bool removed = false;
    std::string bias; // MatMul: a constant [N] added after the product (fused Add)
    // Input 0 came through QuantizeLinear → DequantizeLinear (u8 grid) that was fused away:
    // the int8 kernel quantizes with exactly this scale and zero point.
    bool act_qdq = false;
    float act_scale = 1.0f;
    std::int32_t act_zero_point = 0;
    // Conv on the oneDNN kernel: which of its tensors are NHWC (values passed only between
    // such Convs; plan_conv_layouts).
    kernels::conv_layouts layouts;
    // One scalar quantization grid (a per-tensor QuantizeLinear / DequantizeLinear).
    using grid = ops::quant_grid;
    // A 256-entry byte table (indexed by a quantized value's byte): the model's
    // DequantizeLinear → elementwise operators → QuantizeLinear between two quantized values,
    // computed once at load for all 256 inputs by the very kernels those nodes would run (hence
    // the same bytes), or an i8 grid shifted onto u8.
    //  - int8 Conv (act_qdq): applied to input 0 (then on the Conv's u8 grid). Absent: input 0
    //    is on that grid already.
    //  - QuantizeLinear: the node is this table, reading the quantized value the fused
    //    DequantizeLinear read; its result has the node's grid.
    std::optional<std::array<std::uint8_t, 256>> table;
    // Elementwise node of a DequantizeLinear's value (fused with it and the elementwise nodes
    // between): the node is this table of its f32 results, reading the quantized value.
    std::optional<std::array<float, 256>> float_table;
    std::string table_of; // the fused nodes' op types, for report()
    // int8 Conv whose QuantizeLinear was fused: it writes its result on this grid.
    // QuantizeLinear made a table: its result's grid.
    std::optional<grid> output_grid;
    // Add(DequantizeLinear(a), DequantizeLinear(b)) (→ Relu or Clip) → QuantizeLinear, fused:
    // this Add reads a and b as they are and writes the quantized sum (ONNX Runtime's
    // QLinearAdd), element by element through the kernels of the nodes it replaces.
    struct quantized_add {
        grid a, b, y;
        bool clip = false;
        float lo = 0, hi = 0;
    };
    std::optional<quantized_add> qadd;
    // Reads NHWC (layouts.src) but its result must be NCHW: the step transposes it.
    bool transpose_result = false;
};

inline bool is_table_op(const node& n) {
    return n.domain.empty() && op_table::standard_ops().count(n.op_type) != 0;
}

inline const std::set<std::string>& supported_ops() {
    static const std::set<std::string> s{"Gemm",
                                         "MatMul",
                                         "Add",
                                         "Sub",
                                         "Mul",
                                         "Div",
                                         "Pow",
                                         "Sqrt",
                                         "Relu",
                                         "LeakyRelu",
                                         "Sigmoid",
                                         "HardSigmoid",
                                         "HardSwish",
                                         "Tanh",
                                         "Erf",
                                         "Gelu",
                                         "Softmax",
                                         "LogSoftmax",
                                         "Clip",
                                         "Conv",
                                         "ConvTranspose",
                                         "BatchNormalization",
                                         "MaxPool",
                                         "AveragePool",
                                         "GlobalAveragePool",
                                         "GlobalMaxPool",
                                         "Resize",
                                         "Flatten",
                                         "Reshape",
                                         "Transpose",
                                         "Concat",
                                         "Slice",
                                         "Squeeze",
                                         "Unsqueeze",
                                         "Gather",
                                         "Shape",
                                         "Cast",
                                         "Constant",
                                         "Identity",
                                         "Dropout",
                                         "ReduceMean",
                                         "LayerNormalization",
                                         "Equal",
                                         "Where",
                                         "Expand",
                                         "ConstantOfShape",
                                         "QuantizeLinear",
                                         "DequantizeLinear",
                                         "DynamicQuantizeLinear",
                                         "MatMulInteger",
                                         "ConvInteger"};
    return s;
}

// A contiguous view of v, copying into `keep` when it is strided.
inline const_tensor_view contiguous(const_tensor_view v, std::optional<tensor>& keep) {
    if (v.is_contiguous()) return v;
    keep = tensor::copy_of(v);
    return keep->view();
}

// Who produces and who reads each value of a work list (removed nodes left out); recount()
// after every rewrite of the list.
struct value_index {
    std::map<std::string, int> uses;
    std::map<std::string, work_node*> producer;
    std::map<std::string, std::vector<const work_node*>> readers;
    void recount(std::vector<work_node>& work) {
        uses.clear();
        producer.clear();
        readers.clear();
        for (auto& w : work) {
            if (w.removed) continue;
            for (const auto& i : w.n.inputs) {
                ++uses[i];
                readers[i].push_back(&w);
            }
            if (!w.n.outputs.empty()) producer[w.n.outputs[0]] = &w;
        }
    }
    work_node* made_by(const std::string& v) const {
        const auto it = producer.find(v);
        return it == producer.end() ? nullptr : it->second;
    }
};

inline std::string fused(const work_node& w, std::string path) {
    return w.relu ? path + " + fused ReLU" : path;
}

inline void range_to_grid(tensor_range r, std::int64_t q, float& scale, std::int32_t& zp) {
    const float lo = std::min(r.lo, 0.0f), hi = std::max(r.hi, 0.0f);
    scale = (hi - lo) / static_cast<float>(q);
    if (!(scale > 0) || !std::isfinite(scale)) scale = 1.0f;
    zp = static_cast<std::int32_t>(
        std::clamp<float>(std::nearbyint(-lo / scale), 0.0f, static_cast<float>(q)));
}

} // namespace executor_detail

using namespace executor_detail;

struct executor::impl {
    executor_options options;
    std::vector<value_info> inputs, outputs;
    std::vector<node_report> report;
    std::vector<std::string> slot_names;
    std::vector<std::optional<tensor>> constants; // per slot: the value, if constant
    std::vector<int> input_slots, output_slots;
    struct step {
        std::string name, op_type;
        std::vector<int> in, out;
        kernel_fn fn;
        std::vector<int> release; // slots whose last use is this step
        bool pooled = false;      // its output may come from the run's tensor_pool
    };
    std::vector<step> steps;
    mutable std::atomic<double> ops_per_sample{0};
    // Idle tensor pools, one taken by each run() in progress and given back at its end.
    mutable std::mutex pools_mutex;
    mutable std::vector<std::unique_ptr<tensor_pool>> idle_pools;
    mutable std::atomic<std::uint64_t> last_misses{0};
    mutable std::atomic<std::uint64_t> last_reorders{0};
    std::vector<char> slot_nhwc; // per slot: the value is held NHWC ([N, H, W, C])
    bool int8 = false;
    std::uint64_t bytes = 0;

    // ---- build state (cleared after construction) ----
    const model* m = nullptr;
    std::map<std::string, const_tensor_view> constv;
    std::map<std::string, tensor> owned;
    std::map<std::string, std::vector<std::int64_t>> shapes; // −1: unknown dim
    std::map<std::string, std::vector<pdim>> partial;
    int reduce_range = 0;
    std::set<std::string> f32_nodes;
    std::set<std::string> packed_used;
    // int4 weights found in the model (DequantizeLinear of INT4/UINT4 blocked constants), by
    // the DequantizeLinear's output: the model index of that node.
    std::map<std::string, std::size_t> qdq_int4;

    void map_qdq_int4(const model& mdl);

    bool is_const(const std::string& name) const { return name.empty() || constv.count(name); }
    optional_view cst(const node& n, std::size_t i) const {
        if (i >= n.inputs.size() || n.inputs[i].empty()) return std::nullopt;
        const auto it = constv.find(n.inputs[i]);
        if (it == constv.end()) return std::nullopt;
        return it->second;
    }
    bool has_input(const node& n, std::size_t i) const {
        return i < n.inputs.size() && !n.inputs[i].empty();
    }
    const std::vector<std::int64_t>* shape_of(const std::string& name) const {
        const auto it = shapes.find(name);
        return it == shapes.end() ? nullptr : &it->second;
    }
    void set_const(const std::string& name, tensor t) {
        shapes[name] = {t.dims().dims().begin(), t.dims().dims().end()};
        auto& slot = owned[name];
        slot = std::move(t);
        constv[name] = slot.view();
    }
    std::string unique(const std::string& stem) {
        std::string name = stem;
        for (int k = 1; constv.count(name) || owned.count(name) || shapes.count(name); ++k)
            name = fmt::format("{}_{}", stem, k);
        return name;
    }

    compiled compile(const work_node& w);
    compiled compile_gemm(const work_node& w);
    compiled compile_matmul(const work_node& w);
    compiled compile_conv(const work_node& w);
    bool conv_on_kernel(const node& n) const;
    int per_channel_operand(const node& n) const;
    enum class nhwc_role {
        none,
        conv,        // oneDNN-kernel Conv
        pool,        // 2-D MaxPool / AveragePool
        global_pool, // GlobalAveragePool / GlobalMaxPool
        unary,       // elementwise activation
        batch_norm,  // BatchNormalization, inference
        per_channel, // Add/Sub/Mul/Div with an [N, C, 1, 1] operand
        elementwise, // Add/Sub/Mul/Div of equal 4-D shapes
        concat,      // Concat on the channel axis
    };
    nhwc_role role_of(const work_node& w) const;
    void fuse_conv_activations(std::vector<work_node>& work, const std::set<std::string>& pinned);
    void fuse_int8_chains(std::vector<work_node>& work, const std::set<std::string>& pinned);
    bool scalar_grid(const node& q_or_dq, work_node::grid& g) const;
    compiled compile_quantized_add(const work_node& w);
    std::optional<tensor> run_alone(const work_node& w,
                                    const std::map<std::string, tensor>& values);
    std::set<std::string> plan_conv_layouts(std::vector<work_node>& work,
                                            const std::set<std::string>& pinned);
    compiled compile_matmul_nbits(const work_node& w);
    std::optional<compiled> compile_packed(const work_node& w, std::int64_t kk, std::int64_t nn,
                                           std::vector<float> bias, bool rank2_only);
    compiled compile_matmul_like(const work_node& w, tensor weights, std::int64_t k, std::int64_t n,
                                 kernels::weight_layout layout, std::vector<float> bias, bool relu,
                                 bool rank2_only);
    void infer(const node& n);
    bool fold_partial(const node& n);
    op_table::context table_context(const node& n) const;
    void inline_if(const node& n, const std::function<void(const node&, std::size_t)>& visit);
    void build(const model& model);
};

} // namespace hone
