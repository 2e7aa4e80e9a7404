// The result buffers of operators (see result_source in ops.hpp).
#include "ops.hpp"

namespace hone::ops {

namespace {
thread_local result_source* current_source = nullptr;
} // namespace

result_scope::result_scope(result_source* source) noexcept : saved_(current_source) {
    current_source = source;
}
result_scope::~result_scope() { current_source = saved_; }

tensor new_result(dtype type, const shape& dims) {
    return current_source ? current_source->take(type, dims) : tensor(type, dims);
}

} // namespace hone::ops
