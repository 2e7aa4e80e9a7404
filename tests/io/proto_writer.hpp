// Test helper: a minimal protobuf encoder, to write ONNX files that hone's own writer never
// would (wrong raw_data sizes, cycles, duplicate names, hostile external data locations).
// Field numbers are those of onnx.proto (ModelProto, GraphProto, NodeProto, TensorProto, ...).
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

namespace hone::test {

class pb {
public:
    pb& varint(int field, std::uint64_t v) {
        key(field, 0);
        put(v);
        return *this;
    }
    pb& bytes(int field, const std::string& s) {
        key(field, 2);
        put(s.size());
        out_ += s;
        return *this;
    }
    pb& msg(int field, const pb& m) { return bytes(field, m.out_); }
    pb& fixed32(int field, float f) {
        key(field, 5);
        char b[4];
        std::memcpy(b, &f, 4);
        out_.append(b, 4);
        return *this;
    }
    const std::string& str() const { return out_; }

private:
    void key(int field, int wire) { put((static_cast<std::uint64_t>(field) << 3) | wire); }
    void put(std::uint64_t v) {
        while (v >= 0x80) {
            out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
            v >>= 7;
        }
        out_.push_back(static_cast<char>(v));
    }
    std::string out_;
};

// onnx.proto messages.
inline pb onnx_node(const std::string& name, const std::string& op,
                    std::initializer_list<std::string> in, std::initializer_list<std::string> out) {
    pb n;
    for (const auto& i : in)
        n.bytes(1, i);
    for (const auto& o : out)
        n.bytes(2, o);
    n.bytes(3, name).bytes(4, op);
    return n;
}
inline pb onnx_attr_int(const std::string& name, std::int64_t v) {
    return pb().bytes(1, name).varint(3, static_cast<std::uint64_t>(v)).varint(20, 2);
}
inline pb onnx_attr_float(const std::string& name, float v) {
    return pb().bytes(1, name).fixed32(2, v).varint(20, 1);
}
inline pb onnx_attr_ints(const std::string& name, std::initializer_list<std::int64_t> v) {
    pb a;
    a.bytes(1, name);
    for (const auto x : v)
        a.varint(8, static_cast<std::uint64_t>(x));
    return a.varint(20, 7);
}
// A float tensor with raw_data (dims as given, data as given: sizes need not agree).
inline pb onnx_tensor(const std::string& name, std::initializer_list<std::int64_t> dims,
                      const std::vector<float>& data) {
    pb t;
    for (const auto d : dims)
        t.varint(1, static_cast<std::uint64_t>(d));
    t.varint(2, 1).bytes(8, name);
    t.bytes(9, std::string(reinterpret_cast<const char*>(data.data()), data.size() * 4));
    return t;
}
inline pb onnx_external_tensor(const std::string& name, std::initializer_list<std::int64_t> dims,
                               const std::string& location, std::uint64_t offset,
                               std::uint64_t length) {
    pb t;
    for (const auto d : dims)
        t.varint(1, static_cast<std::uint64_t>(d));
    t.varint(2, 1).bytes(8, name);
    t.msg(13, pb().bytes(1, "location").bytes(2, location));
    t.msg(13, pb().bytes(1, "offset").bytes(2, std::to_string(offset)));
    t.msg(13, pb().bytes(1, "length").bytes(2, std::to_string(length)));
    t.varint(14, 1);
    return t;
}
// A float value_info; a negative dim is dynamic ("N").
inline pb onnx_value(const std::string& name, std::initializer_list<std::int64_t> dims) {
    pb shape;
    for (const auto d : dims)
        shape.msg(1, d < 0 ? pb().bytes(2, "N") : pb().varint(1, static_cast<std::uint64_t>(d)));
    pb tensor_type;
    tensor_type.varint(1, 1).msg(2, shape);
    return pb().bytes(1, name).msg(2, pb().msg(1, tensor_type));
}
inline std::string onnx_model(const pb& graph, std::int64_t opset = 13) {
    pb m;
    m.varint(1, 8).bytes(2, "test").msg(7, graph);
    m.msg(8, pb().bytes(1, "").varint(2, static_cast<std::uint64_t>(opset)));
    return m.str();
}

} // namespace hone::test
