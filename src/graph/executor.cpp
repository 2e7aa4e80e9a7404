// The graph executor (see hone/graph/executor.hpp): its public API and the run loop. The plan
// is built at construction (plan/build.cpp), then run many times.
#include "executor_impl.hpp"

#include <memory>
#include <mutex>
#include <set>

namespace hone {

std::vector<std::string> supported_operators() {
    std::set<std::string> all(supported_ops().begin(), supported_ops().end());
    for (const auto& [op, e] : op_table::standard_ops())
        all.insert(op);
    all.insert("If");
    all.insert("com.microsoft.MatMulNBits");
    return {all.begin(), all.end()};
}

executor::executor(const model& m, const executor_options& options)
    : impl_(std::make_unique<impl>()) {
    impl_->options = options;
    impl_->build(m);
}
executor::~executor() = default;
executor::executor(executor&&) noexcept = default;
executor& executor::operator=(executor&&) noexcept = default;

const std::vector<value_info>& executor::inputs() const noexcept { return impl_->inputs; }
const std::vector<value_info>& executor::outputs() const noexcept { return impl_->outputs; }
const std::vector<node_report>& executor::report() const noexcept { return impl_->report; }
double executor::ops_per_sample() const noexcept { return impl_->ops_per_sample.load(); }
bool executor::uses_int8() const noexcept { return impl_->int8; }
std::uint64_t executor::plan_bytes() const noexcept { return impl_->bytes; }
std::uint64_t executor::last_run_allocations() const noexcept { return impl_->last_misses.load(); }
std::uint64_t executor::last_run_reorders() const noexcept { return impl_->last_reorders.load(); }

std::string executor::report_text() const {
    std::string s;
    for (const auto& r : impl_->report)
        s += fmt::format("{} '{}': {}\n", r.op_type, r.node, r.path);
    return s;
}

std::vector<std::string> executor::observable() const {
    std::vector<std::string> names;
    for (const auto& st : impl_->steps)
        for (const auto s : st.out)
            if (s >= 0) names.push_back(impl_->slot_names[static_cast<std::size_t>(s)]);
    return names;
}

const tensor* executor::constant(const std::string& name) const noexcept {
    for (std::size_t s = 0; s < impl_->slot_names.size(); ++s)
        if (impl_->slot_names[s] == name && impl_->constants[s]) return &*impl_->constants[s];
    return nullptr;
}

std::vector<tensor> executor::run(const_tensor_view input, const observer& observe) const {
    return run(std::span<const const_tensor_view>(&input, 1), observe);
}

std::vector<tensor> executor::run(std::span<const const_tensor_view> given,
                                  const observer& observe) const {
    const auto& p = *impl_;
    if (given.size() != p.inputs.size())
        fail(status::invalid_argument,
             fmt::format("executor::run: {} inputs given, the model has {}", given.size(),
                         p.inputs.size()));
    std::vector<std::optional<const_tensor_view>> view(p.slot_names.size());
    std::vector<std::optional<tensor>> vals(p.slot_names.size());
    for (std::size_t s = 0; s < p.constants.size(); ++s)
        if (p.constants[s]) view[s] = p.constants[s]->view();
    for (std::size_t i = 0; i < given.size(); ++i) {
        const auto& decl = p.inputs[i];
        const auto& v = given[i];
        if (v.type() != decl.type)
            fail(status::dtype_mismatch,
                 fmt::format("executor::run: input '{}' is {}, the model "
                             "declares {}",
                             decl.name, name_of(v.type()), name_of(decl.type)));
        if (decl.has_shape) {
            bool ok = v.rank() == decl.dims.size();
            for (std::size_t d = 0; ok && d < decl.dims.size(); ++d)
                ok = !decl.dims[d].is_static() || decl.dims[d].size == v.dims()[d];
            if (!ok) {
                std::string want;
                for (const auto& d : decl.dims)
                    want += (want.empty() ? "" : ", ") + (d.is_static()
                                                              ? std::to_string(d.size)
                                                              : (d.param.empty() ? "?" : d.param));
                fail(status::shape_mismatch,
                     fmt::format("executor::run: input '{}' has shape {}, the model declares [{}]",
                                 decl.name, v.dims().to_string(), want));
            }
        }
        view[static_cast<std::size_t>(p.input_slots[i])] = v;
    }
    // This run's pool: an idle one (buffers of earlier runs), or a new one.
    std::unique_ptr<tensor_pool> pool;
    {
        std::lock_guard lock(p.pools_mutex);
        if (!p.idle_pools.empty()) {
            pool = std::move(p.idle_pools.back());
            p.idle_pools.pop_back();
        }
    }
    if (!pool) pool = std::make_unique<tensor_pool>();
    pool->misses = 0;
    run_state st;
    struct give_back {
        const impl& p;
        std::unique_ptr<tensor_pool>& pool;
        const std::uint64_t& reorders;
        ~give_back() {
            pool->trim();
            p.last_misses.store(pool->misses);
            p.last_reorders.store(reorders);
            std::lock_guard lock(p.pools_mutex);
            p.idle_pools.push_back(std::move(pool));
        }
    } returning{p, pool, st.reorders};
    std::vector<optional_view> in;
    for (const auto& step : p.steps) {
        in.clear();
        for (const auto s : step.in) {
            if (s < 0) {
                in.emplace_back(std::nullopt);
                continue;
            }
            if (!view[static_cast<std::size_t>(s)])
                fail(status::internal, fmt::format("executor: value '{}' missing before {} '{}'",
                                                   p.slot_names[static_cast<std::size_t>(s)],
                                                   step.op_type, step.name));
            in.emplace_back(*view[static_cast<std::size_t>(s)]);
        }
        std::vector<tensor> outs;
        st.pool = step.pooled ? pool.get() : nullptr;
        try {
            const ops::result_scope results(st.pool);
            outs = step.fn(in, st);
        } catch (const hone::error& e) {
            fail(e.code(), fmt::format("{} '{}': {}", step.op_type, step.name, e.what()));
        }
        for (std::size_t k = 0; k < step.out.size(); ++k) {
            const auto s = step.out[k];
            if (s < 0) continue;
            if (k >= outs.size())
                fail(status::internal, fmt::format("{} '{}': output {} was not produced",
                                                   step.op_type, step.name, k));
            const auto si = static_cast<std::size_t>(s);
            vals[si] = std::move(outs[k]);
            view[si] = vals[si]->view();
            if (observe && p.slot_nhwc[si]) { // observers see ONNX's NCHW
                const std::int64_t to_nchw[] = {0, 3, 1, 2};
                const auto v = ops::transpose(*view[si], to_nchw);
                observe(p.slot_names[si], v.view());
            } else if (observe) {
                observe(p.slot_names[si], *view[si]);
            }
        }
        for (const auto s : step.release) {
            if (auto& v = vals[static_cast<std::size_t>(s)]) pool->give(std::move(*v));
            vals[static_cast<std::size_t>(s)].reset();
            view[static_cast<std::size_t>(s)].reset();
        }
    }
    std::vector<tensor> result;
    for (const auto s : p.output_slots) {
        const auto si = static_cast<std::size_t>(s);
        if (vals[si])
            result.push_back(std::move(*vals[si]));
        else if (view[si])
            result.push_back(tensor::copy_of(*view[si]));
        else
            fail(status::internal,
                 fmt::format("executor: output '{}' not computed", p.slot_names[si]));
    }
    const double batch =
        !given.empty() && given[0].rank() > 0 ? static_cast<double>(given[0].dims()[0]) : 1.0;
    if (batch > 0) p.ops_per_sample.store(2.0 * st.macs / batch);
    return result;
}

std::map<std::string, tensor> executor::run_observed(std::span<const const_tensor_view> inputs,
                                                     std::span<const std::string> names) const {
    std::set<std::string> wanted(names.begin(), names.end());
    std::map<std::string, tensor> got;
    const auto produced = observable();
    const std::set<std::string> known(produced.begin(), produced.end());
    for (const auto& n : wanted) {
        bool is_output = false;
        for (const auto& o : impl_->outputs)
            is_output |= o.name == n;
        if (!known.count(n) && !is_output)
            fail(status::not_found,
                 fmt::format("executor::run_observed: value '{}' is not produced by this plan "
                             "(unknown, folded to a constant, or fused away: list it in "
                             "executor_options::keep)",
                             n));
    }
    auto outs = run(inputs, [&](const std::string& name, const_tensor_view v) {
        if (wanted.count(name)) got.insert_or_assign(name, tensor::copy_of(v));
    });
    for (std::size_t i = 0; i < impl_->outputs.size(); ++i)
        if (wanted.count(impl_->outputs[i].name) && !got.count(impl_->outputs[i].name))
            got.emplace(impl_->outputs[i].name, std::move(outs[i]));
    return got;
}

// ---- graph_runner ---------------------------------------------------------------------------

graph_runner::graph_runner(const model& m, const executor_options& options, std::string name)
    : exec_(m, options), name_(std::move(name)), bytes_(0) {
    if (exec_.inputs().size() != 1 || exec_.outputs().size() != 1)
        fail(status::invalid_argument,
             fmt::format("graph_runner: the model has {} inputs and {} outputs; one of each is "
                         "needed",
                         exec_.inputs().size(), exec_.outputs().size()));
    if (name_.empty()) name_ = exec_.uses_int8() ? "hone int8" : "hone f32";
    bytes_ = exec_.plan_bytes();
}

const_tensor_view as_declared(const value_info& decl, const_tensor_view inputs,
                              std::optional<tensor>& keep) {
    if (!decl.has_shape || inputs.rank() < 1 || decl.dims.empty() ||
        inputs.rank() == decl.dims.size())
        return inputs;
    std::vector<std::int64_t> dims{inputs.dims()[0]};
    std::int64_t per = 1;
    bool ok = true;
    for (std::size_t d = 1; d < decl.dims.size(); ++d) {
        ok &= decl.dims[d].is_static();
        dims.push_back(decl.dims[d].size);
        per *= decl.dims[d].is_static() ? decl.dims[d].size : 1;
    }
    const auto batch = inputs.dims()[0];
    if (!ok || batch <= 0 || inputs.numel() != batch * per) return inputs;
    const auto c = contiguous(inputs, keep);
    return make_view(c.data(), storage_bytes(c.type(), c.numel()), c.type(),
                     shape(std::span<const std::int64_t>(dims)));
}

tensor graph_runner::run(const_tensor_view inputs) {
    std::optional<tensor> keep;
    return std::move(exec_.run(as_declared(exec_.inputs()[0], inputs, keep)).at(0));
}

runner::work graph_runner::work_per_sample() const {
    return {exec_.ops_per_sample(), exec_.uses_int8()};
}

} // namespace hone
