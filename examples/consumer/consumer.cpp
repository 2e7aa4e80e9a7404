// A tiny C++ program against an installed hone: tensors, views, f16 conversion, errors.
#include <hone/hone.hpp>

#include <cstdio>

int main() {
    hone::tensor t(hone::dtype::f32, {2, 3});
    auto values = t.span<float>();
    for (std::size_t i = 0; i < values.size(); ++i)
        values[i] = 0.5f * static_cast<float>(i);
    hone::tensor h(hone::dtype::f16, {2, 3});
    hone::copy(t, h);
    const float back = hone::to_float(h.view().at<hone::half>({1, 2}));
    try {
        hone::shape bad{2, -1};
        std::puts("a negative dimension was accepted");
        return 1;
    } catch (const hone::error& e) {
        std::printf("hone %s (C++): f16 round trip %.2f; rejected: %s\n",
                    hone::version().text.data(), back, e.what());
        return (back == 2.5f && e.code() == hone::status::invalid_argument) ? 0 : 1;
    }
}
