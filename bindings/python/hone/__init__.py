"""hone for Python: a ctypes binding over the C ABI (include/hone/hone.h), nothing else.

The reference binding for binding authors (bindings/README.md): it mirrors the C conventions one
to one — every failing call raises HoneError with the C status and hone_last_error()'s message;
handles are owned by Python objects and destroyed with them; params structs are filled by their
_params_init function before fields are set, so a library with newer (longer) structs still
works. No third-party package is needed; NumPy arrays are accepted and returned when NumPy is
installed (anything with the buffer protocol works: array.array, bytes, memoryview).

The shared library is found from $HONE_LIBRARY, else as "libhone.so.2" on the loader's path.

Covered: versions, threads, tensors, ONNX models (load, save, inputs/outputs/weights, get/set
weights, the deployable QDQ form), the graph executor (f32 / int8 dynamic / int8 static, observed activations, the path
each node took), Ed25519 identities, the change ledger (append, verify, check an artifact), and
(hone.algorithms) the weight quantizer, calibrator, SmoothQuant, bias correction, pruning
(unstructured, N:M, blocks, channels, Wanda, SparseGPT), sparse storage, clustering, policies and
validation, (hone.training) fine-tuning, and the whole optimize flow (hone.optimize).
"""

from __future__ import annotations

import ctypes as C
import json
import os
import struct
from typing import Callable, Iterable, Optional, Sequence

__all__ = [
    "HoneError", "Status", "version", "abi_version", "set_num_threads", "get_num_threads",
    "DType", "Tensor", "Model", "Executor", "Key", "Ledger", "qdq_grid", "optimize", "validate_change",
]

# ---- the library -------------------------------------------------------------------------------

_lib = C.CDLL(os.environ.get("HONE_LIBRARY", "libhone.so.2"))


class Status:
    """hone_status values."""
    OK, INVALID_ARGUMENT, OUT_OF_RANGE, SHAPE_MISMATCH, DTYPE_MISMATCH, OUT_OF_MEMORY = range(6)
    IO, FORMAT, UNSUPPORTED, NOT_FOUND, VERIFICATION_FAILED, INTERNAL, CANCELLED = range(6, 13)


class HoneError(Exception):
    """A failed hone call: .status (a Status value), .status_name and the library's .message."""

    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        self.status_name = _lib.hone_status_string(status).decode()
        super().__init__(f"{self.status_name}: {message}")


def _fn(name: str, argtypes: list, restype=C.c_int):
    f = getattr(_lib, name)
    f.argtypes, f.restype = argtypes, restype
    return f


_lib.hone_status_string.argtypes, _lib.hone_status_string.restype = [C.c_int], C.c_char_p
_last_error = _fn("hone_last_error", [], C.c_char_p)


def _check(status: int) -> None:
    if status != Status.OK:
        raise HoneError(status, (_last_error() or b"").decode(errors="replace"))


def _read_bytes(get) -> bytes:
    """The bytes before the final NUL of a string returned by the C ABI's one string rule
    (hone.h, Conventions, "Strings"): get(buffer, capacity, needed) is called with NULL, 0 to
    learn the size, then with a buffer of that size."""
    needed = C.c_size_t()
    status = get(None, 0, C.byref(needed))
    if status != Status.OUT_OF_RANGE:  # OK only where NULL, 0 means "not wanted"
        _check(status)
    buf = C.create_string_buffer(needed.value)
    _check(get(buf, needed.value, None))
    return buf.raw[: needed.value - 1]


def _read_string(get) -> str:
    """A string returned by the C ABI's one string rule (see _read_bytes)."""
    return _read_bytes(get).decode(errors="replace")


def _str(s: Optional[str]) -> Optional[bytes]:
    return None if s is None else os.fsencode(s)


def _strings(items: Sequence[str]):
    arr = (C.c_char_p * max(len(items), 1))(*[_str(s) for s in items])
    return arr if items else None


# ---- versions and threads ----------------------------------------------------------------------

def version() -> str:
    """The loaded library's "major.minor.patch"."""
    return _fn("hone_version", [], C.c_char_p)().decode()


def abi_version() -> int:
    return _fn("hone_abi_version", [])()


def set_num_threads(n: int) -> None:
    """Threads for hone's parallel work; n <= 0 restores the default."""
    _check(_fn("hone_set_num_threads", [C.c_int])(n))


def get_num_threads() -> int:
    out = C.c_int()
    _check(_fn("hone_get_num_threads", [C.POINTER(C.c_int)])(C.byref(out)))
    return out.value


# ---- tensors -----------------------------------------------------------------------------------

class DType:
    """hone_dtype values, with the struct/array format of the byte-sized ones."""
    F32, F16, BF16, I8, U8, I4, U4, I32, I64, BOOL = range(10)
    _format = {F32: "f", F16: "e", I8: "b", U8: "B", I32: "i", I64: "q", BOOL: "?"}
    _from_format = {"f": F32, "e": F16, "b": I8, "B": U8, "i": I32, "l": I64, "q": I64, "?": BOOL}
    _numpy = {F32: "float32", F16: "float16", I8: "int8", U8: "uint8", I32: "int32",
              I64: "int64", BOOL: "bool"}


MAX_RANK = 8


class _TensorParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("dtype", C.c_int), ("rank", C.c_size_t),
                ("dims", C.POINTER(C.c_int64)), ("strides", C.POINTER(C.c_int64))]


_fn("hone_tensor_params_init", [C.POINTER(_TensorParams)])
_fn("hone_tensor_create", [C.POINTER(_TensorParams), C.POINTER(C.c_void_p)])
_fn("hone_tensor_wrap", [C.POINTER(_TensorParams), C.c_void_p, C.c_size_t, C.POINTER(C.c_void_p)])
_fn("hone_tensor_destroy", [C.c_void_p], None)
_fn("hone_tensor_dtype", [C.c_void_p, C.POINTER(C.c_int)])
_fn("hone_tensor_rank", [C.c_void_p, C.POINTER(C.c_size_t)])
_fn("hone_tensor_shape", [C.c_void_p, C.POINTER(C.c_int64), C.c_size_t])
_fn("hone_tensor_nbytes", [C.c_void_p, C.POINTER(C.c_size_t)])
_fn("hone_tensor_data", [C.c_void_p, C.POINTER(C.c_void_p)])
_fn("hone_tensor_copy", [C.c_void_p, C.c_void_p])


class Tensor:
    """A hone_tensor. Tensor(dtype, shape) owns zeroed memory; Tensor.from_buffer copies any
    buffer (NumPy array, array.array, bytes) into an owned tensor of the given shape."""

    def __init__(self, dtype: int, shape: Sequence[int]):
        self._handle = C.c_void_p()
        self._keep = None  # a wrapped buffer kept alive while the tensor lives
        p = self._params(dtype, shape)
        _check(_lib.hone_tensor_create(C.byref(p), C.byref(self._handle)))

    @staticmethod
    def _params(dtype: int, shape: Sequence[int]) -> _TensorParams:
        p = _TensorParams()
        _check(_lib.hone_tensor_params_init(C.byref(p)))
        dims = (C.c_int64 * max(len(shape), 1))(*shape)
        p.dtype, p.rank, p.dims = dtype, len(shape), dims
        p._dims = dims  # keep the array alive with the struct
        return p

    @classmethod
    def _adopt(cls, handle: C.c_void_p) -> "Tensor":
        t = cls.__new__(cls)
        t._handle, t._keep = handle, None
        return t

    @classmethod
    def from_buffer(cls, data, shape: Optional[Sequence[int]] = None,
                    dtype: Optional[int] = None) -> "Tensor":
        """A copy of `data` (C-contiguous). The shape defaults to the buffer's, the element type
        to the buffer's format (float32 → F32, int64 → I64, …)."""
        view = memoryview(data)
        if not view.c_contiguous:
            raise ValueError("Tensor.from_buffer: the buffer is not C-contiguous")
        if dtype is None:
            fmt = view.format.lstrip("@=<")
            if fmt not in DType._from_format:
                raise ValueError(f"Tensor.from_buffer: no hone dtype for buffer format '{fmt}'")
            dtype = DType._from_format[fmt]
        shape = list(view.shape) if shape is None else list(shape)
        t = cls(dtype, shape)
        raw = view.cast("B")
        if len(raw) != t.nbytes:
            raise HoneError(Status.SHAPE_MISMATCH,
                            f"Tensor.from_buffer: {len(raw)} bytes given, shape {shape} of "
                            f"{_lib.hone_dtype_name(dtype).decode()} needs {t.nbytes}")
        C.memmove(t._data_pointer(), (C.c_ubyte * len(raw)).from_buffer_copy(raw), len(raw))
        return t

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_tensor_destroy(self._handle)
            self._handle = None

    @property
    def dtype(self) -> int:
        out = C.c_int()
        _check(_lib.hone_tensor_dtype(self._handle, C.byref(out)))
        return out.value

    @property
    def shape(self) -> tuple:
        rank = C.c_size_t()
        _check(_lib.hone_tensor_rank(self._handle, C.byref(rank)))
        dims = (C.c_int64 * MAX_RANK)()
        _check(_lib.hone_tensor_shape(self._handle, dims, MAX_RANK))
        return tuple(dims[: rank.value])

    @property
    def nbytes(self) -> int:
        out = C.c_size_t()
        _check(_lib.hone_tensor_nbytes(self._handle, C.byref(out)))
        return out.value

    def _data_pointer(self) -> int:
        out = C.c_void_p()
        _check(_lib.hone_tensor_data(self._handle, C.byref(out)))
        return out.value or 0

    def tobytes(self) -> bytes:
        n = self.nbytes
        return C.string_at(self._data_pointer(), n) if n else b""

    def tolist(self) -> list:
        """The elements, flat, as Python numbers (byte-sized and larger dtypes only)."""
        fmt = DType._format.get(self.dtype)
        if fmt is None:
            raise HoneError(Status.UNSUPPORTED, "Tensor.tolist: packed or bf16 elements")
        raw = self.tobytes()
        return list(struct.unpack(f"<{len(raw) // struct.calcsize(fmt)}{fmt}", raw))

    def numpy(self):
        """A NumPy copy (requires NumPy)."""
        import numpy
        name = DType._numpy.get(self.dtype)
        if name is None:
            raise HoneError(Status.UNSUPPORTED, "Tensor.numpy: packed or bf16 elements")
        return numpy.frombuffer(self.tobytes(), dtype=name).reshape(self.shape).copy()


def _as_tensor(x, shape=None) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor.from_buffer(x, shape)


# ---- models ------------------------------------------------------------------------------------

class _ModelInfo(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("node_count", C.c_size_t), ("input_count", C.c_size_t),
                ("output_count", C.c_size_t), ("weight_count", C.c_size_t),
                ("weight_bytes", C.c_uint64), ("opset", C.c_int64), ("source_opset", C.c_int64),
                ("producer_name", C.c_char_p), ("producer_version", C.c_char_p)]


_fn("hone_model_load_onnx", [C.c_char_p, C.POINTER(C.c_void_p)])
_fn("hone_model_save_onnx", [C.c_void_p, C.c_char_p, C.c_uint64])
_fn("hone_model_destroy", [C.c_void_p], None)
_fn("hone_model_get_info", [C.c_void_p, C.POINTER(_ModelInfo)])
_fn("hone_model_value", [C.c_void_p, C.c_int, C.c_size_t, C.POINTER(C.c_int),
                         C.POINTER(C.c_size_t), C.POINTER(C.c_int64), C.c_size_t])
_fn("hone_model_value_name", [C.c_void_p, C.c_int, C.c_size_t, C.c_char_p, C.c_size_t,
                              C.POINTER(C.c_size_t)])
_fn("hone_model_get_weight", [C.c_void_p, C.c_char_p, C.POINTER(C.c_void_p)])
_fn("hone_model_set_weight", [C.c_void_p, C.c_char_p, C.c_void_p])


class Model:
    """A model (graph + named weights) loaded from ONNX with every field checked."""

    def __init__(self, path: str):
        self._handle = C.c_void_p()
        _check(_lib.hone_model_load_onnx(_str(os.fspath(path)), C.byref(self._handle)))

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_model_destroy(self._handle)
            self._handle = None

    def save(self, path: str, external_threshold: int = 0) -> None:
        """Writes ONNX atomically; weights ≥ external_threshold bytes (if > 0) go to path.data."""
        _check(_lib.hone_model_save_onnx(self._handle, _str(os.fspath(path)), external_threshold))

    @property
    def info(self) -> dict:
        i = _ModelInfo(struct_size=C.sizeof(_ModelInfo))
        _check(_lib.hone_model_get_info(self._handle, C.byref(i)))
        return {"nodes": i.node_count, "inputs": i.input_count, "outputs": i.output_count,
                "weights": i.weight_count, "weight_bytes": i.weight_bytes, "opset": i.opset,
                "source_opset": i.source_opset,
                "producer": (i.producer_name or b"").decode(),
                "producer_version": (i.producer_version or b"").decode()}

    def _values(self, kind: int, count: int) -> list:
        out = []
        for index in range(count):
            dtype, rank = C.c_int(), C.c_size_t()
            dims = (C.c_int64 * MAX_RANK)()
            _check(_lib.hone_model_value(self._handle, kind, index, C.byref(dtype),
                                         C.byref(rank), dims, MAX_RANK))
            name = _read_string(lambda b, c, n, index=index: _lib.hone_model_value_name(
                self._handle, kind, index, b, c, n))
            shape = None if rank.value == C.c_size_t(-1).value else tuple(dims[: rank.value])
            out.append((name, dtype.value, shape))
        return out

    @property
    def inputs(self) -> list:
        """[(name, dtype, shape)], a dynamic dimension as -1."""
        return self._values(0, self.info["inputs"])

    @property
    def outputs(self) -> list:
        return self._values(1, self.info["outputs"])

    @property
    def weights(self) -> list:
        """[(name, dtype, shape)] in ascending name order."""
        return self._values(2, self.info["weights"])

    def weight(self, name: str) -> Tensor:
        handle = C.c_void_p()
        _check(_lib.hone_model_get_weight(self._handle, _str(name), C.byref(handle)))
        return Tensor._adopt(handle)

    def set_weight(self, name: str, value) -> None:
        t = _as_tensor(value)
        _check(_lib.hone_model_set_weight(self._handle, _str(name), t._handle))

    def to_qdq(self, ranges: Optional[dict] = None, f32_nodes: Iterable[str] = (),
               quantize_weights: bool = True, bits: int = 8, form: str = "qdq") -> "Model":
        """A new model in a deployable ONNX form (docs/formats.md) that other engines run
        compressed. form "qdq": Gemm/MatMul/Conv weights signed symmetric `bits`-bit per output
        channel, and the tensors named in `ranges` ({name: (lo, hi)}, calibrated; see
        qdq_activation_tensors()) quantized to hone's u8 grid through QuantizeLinear ->
        DequantizeLinear; "dynamic_int8": DynamicQuantizeLinear + MatMulInteger / ConvInteger
        (ranges unused); "matmulnbits": "qdq", then 4-bit weights as com.microsoft.MatMulNBits.
        Layers in f32_nodes stay as they are. save() writes it."""
        return _to_qdq(self, ranges, f32_nodes, quantize_weights, bits, form)

    def qdq_activation_tensors(self) -> list:
        """The tensors to calibrate so that to_qdq() writes the form ONNX Runtime fuses into its
        integer kernels: each layer's input (unless carried through MaxPool/Reshape/...) and
        its output (after a Relu)."""
        # "a\0b\0" before the list's final NUL
        packed = _read_bytes(lambda b, c, n: _lib.hone_model_qdq_activation_tensors(
            self._handle, None, b, c, n, None))
        return [name.decode(errors="replace") for name in packed.split(b"\0")[:-1]]


# ---- deployable ONNX (QDQ) ---------------------------------------------------------------------

class _QuantSpec(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("bits", C.c_int), ("is_signed", C.c_int),
                ("symmetric", C.c_int), ("granularity", C.c_int), ("channel_axis", C.c_int),
                ("group_axis", C.c_int), ("group_size", C.c_int64), ("scale_dtype", C.c_int)]


class _QdqParams(C.Structure):
    # The leading fields of hone_qdq_params; _params_init fills the rest.
    _fields_ = [("struct_size", C.c_size_t), ("quantize_weights", C.c_int),
                ("weight_spec", _QuantSpec), ("weight_names", C.POINTER(C.c_char_p)),
                ("weights", C.POINTER(C.c_void_p)), ("weight_count", C.c_size_t),
                ("activation_names", C.POINTER(C.c_char_p)),
                ("activation_scales", C.POINTER(C.c_float)),
                ("activation_zero_points", C.POINTER(C.c_int32)),
                ("activation_types", C.POINTER(C.c_int)), ("activation_count", C.c_size_t),
                ("f32_nodes", C.POINTER(C.c_char_p)), ("f32_node_count", C.c_size_t),
                ("propagate_grids", C.c_int), ("quantize_bias", C.c_int),
                ("fold_batch_norm", C.c_int), ("form", C.c_int)]

_ONNX_FORMS = {"qdq": 0, "dynamic_int8": 1, "matmulnbits": 2}


_fn("hone_qdq_params_init", [C.c_void_p])
_fn("hone_qdq_activation_from_range", [C.c_float, C.c_float, C.c_int, C.POINTER(C.c_float),
                                       C.POINTER(C.c_int32)])
_fn("hone_model_to_qdq", [C.c_void_p, C.c_void_p, C.POINTER(C.c_void_p)])
_fn("hone_model_qdq_activation_tensors", [C.c_void_p, C.c_void_p, C.c_char_p, C.c_size_t,
                                          C.POINTER(C.c_size_t), C.POINTER(C.c_size_t)])


def qdq_grid(lo: float, hi: float, seven_bit: bool = False) -> tuple:
    """The u8 (scale, zero_point) grid hone uses for a calibrated range [lo, hi]."""
    scale, zero_point = C.c_float(), C.c_int32()
    _check(_lib.hone_qdq_activation_from_range(lo, hi, int(seven_bit), C.byref(scale),
                                               C.byref(zero_point)))
    return scale.value, zero_point.value


def _to_qdq(model: "Model", ranges: Optional[dict], f32_nodes: Iterable[str],
            quantize_weights: bool, bits: int, form: str) -> "Model":
    if form not in _ONNX_FORMS:
        raise ValueError(f"to_qdq: form '{form}' is not one of {sorted(_ONNX_FORMS)}")
    buffer = (C.c_ubyte * max(4096, C.sizeof(_QdqParams)))()
    _check(_lib.hone_qdq_params_init(buffer))
    p = _QdqParams.from_buffer(buffer)
    p.quantize_weights = int(quantize_weights)
    p.weight_spec.bits = bits
    p.form = _ONNX_FORMS[form]
    grids = {}
    for name, (lo, hi) in dict(ranges or {}).items():
        try:
            grids[name] = qdq_grid(lo, hi)
        except HoneError as e:
            raise HoneError(e.status, f"to_qdq: activation '{name}': {e.message}") from None
    names = _strings(list(grids))
    scales = (C.c_float * max(len(grids), 1))(*[g[0] for g in grids.values()])
    zero_points = (C.c_int32 * max(len(grids), 1))(*[g[1] for g in grids.values()])
    if grids:
        p.activation_names = C.cast(names, C.POINTER(C.c_char_p))
        p.activation_scales, p.activation_zero_points = scales, zero_points
        p.activation_count = len(grids)
    f32 = list(f32_nodes)
    f32_names = _strings(f32)
    if f32:
        p.f32_nodes, p.f32_node_count = C.cast(f32_names, C.POINTER(C.c_char_p)), len(f32)
    out = Model.__new__(Model)
    out._handle = C.c_void_p()
    _check(_lib.hone_model_to_qdq(model._handle, buffer, C.byref(out._handle)))
    return out


# ---- the graph executor ------------------------------------------------------------------------

class _ExecutorParams(C.Structure):
    # The leading fields of hone_executor_params; _params_init fills the rest (struct_size says
    # how long the library's struct is, so the buffer below is sized from it).
    _fields_ = [("struct_size", C.c_size_t), ("precision", C.c_int),
                ("fold_constants", C.c_int), ("fold_batch_norm", C.c_int),
                ("fuse_relu", C.c_int), ("reduce_range", C.c_int),
                ("keep", C.POINTER(C.c_char_p)), ("keep_count", C.c_size_t),
                ("range_names", C.POINTER(C.c_char_p)), ("range_lo", C.POINTER(C.c_float)),
                ("range_hi", C.POINTER(C.c_float)), ("range_count", C.c_size_t)]


_OBSERVE = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_char_p, C.c_void_p)
_fn("hone_executor_params_init", [C.c_void_p])
_fn("hone_executor_create", [C.c_void_p, C.c_void_p, C.POINTER(C.c_void_p)])
_fn("hone_executor_destroy", [C.c_void_p], None)
_fn("hone_executor_run", [C.c_void_p, C.POINTER(C.c_void_p), C.c_size_t,
                          C.POINTER(C.c_void_p), C.c_size_t, _OBSERVE, C.c_void_p])
_fn("hone_executor_node_count", [C.c_void_p, C.POINTER(C.c_size_t)])
for _name in ("hone_executor_node_name", "hone_executor_node_op_type", "hone_executor_node_path"):
    _fn(_name, [C.c_void_p, C.c_size_t, C.c_char_p, C.c_size_t, C.POINTER(C.c_size_t)])


class Executor:
    """The graph executor, planned once from a Model (an op it cannot run is a HoneError here).

    precision: "f32", "int8_dynamic" or "int8_static" (then `ranges` {value name: (lo, hi)}
    gives the calibrated input ranges); `keep` names values that must stay observable."""

    _precisions = {"f32": 0, "int8_dynamic": 1, "int8_static": 2}

    def __init__(self, model: Model, precision: str = "f32", keep: Iterable[str] = (),
                 ranges: Optional[dict] = None):
        if precision not in self._precisions:
            raise ValueError(f"Executor: precision '{precision}' is not one of "
                             f"{sorted(self._precisions)}")
        # Room for a newer library's longer struct (it appends fields; struct_size says how long).
        buffer = (C.c_ubyte * max(4096, C.sizeof(_ExecutorParams)))()
        _check(_lib.hone_executor_params_init(buffer))
        p = _ExecutorParams.from_buffer(buffer)
        p.precision = self._precisions[precision]
        keep = list(keep)
        keep_names = _strings(keep)
        p.keep, p.keep_count = (C.cast(keep_names, C.POINTER(C.c_char_p)) if keep else None,
                                len(keep))
        ranges = dict(ranges or {})
        names = _strings(list(ranges))
        lo = (C.c_float * max(len(ranges), 1))(*[r[0] for r in ranges.values()])
        hi = (C.c_float * max(len(ranges), 1))(*[r[1] for r in ranges.values()])
        if ranges:
            p.range_names = C.cast(names, C.POINTER(C.c_char_p))
            p.range_lo, p.range_hi, p.range_count = lo, hi, len(ranges)
        self._handle = C.c_void_p()
        _check(_lib.hone_executor_create(model._handle, buffer, C.byref(self._handle)))
        self._outputs = len(model.outputs)

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_executor_destroy(self._handle)
            self._handle = None

    def run(self, *inputs, observe: Optional[Callable[[str, Tensor], None]] = None) -> list:
        """Runs the graph on one input per graph input (Tensors or buffers with a shape, e.g.
        NumPy arrays); returns the outputs as Tensors. `observe(name, tensor)` sees every value
        (a copy); an exception it raises stops the run and is raised again here."""
        tensors = [_as_tensor(x) for x in inputs]
        ins = (C.c_void_p * max(len(tensors), 1))(*[t._handle for t in tensors])
        outs = (C.c_void_p * max(self._outputs, 1))()
        raised = []

        def callback(_user, name, value):
            try:
                src = Tensor._adopt(C.c_void_p(value))
                copy = Tensor(src.dtype, src.shape)
                src._handle = None  # borrowed: hone owns it
                _check(_lib.hone_tensor_copy(C.c_void_p(value), copy._handle))
                observe(name.decode(), copy)
                return Status.OK
            except BaseException as e:  # noqa: BLE001 — handed back to the caller below
                raised.append(e)
                return Status.INVALID_ARGUMENT

        fn = _OBSERVE(callback) if observe else _OBSERVE()
        status = _lib.hone_executor_run(self._handle, ins, len(tensors), outs, self._outputs,
                                        fn, None)
        if raised:
            raise raised[0]
        _check(status)
        return [Tensor._adopt(C.c_void_p(h)) for h in outs[: self._outputs]]

    def node_paths(self) -> list:
        """[(node, op_type, path)]: how each node ran ("f32 linear (oneDNN)", "folded …")."""
        count = C.c_size_t()
        _check(_lib.hone_executor_node_count(self._handle, C.byref(count)))
        out = []
        for i in range(count.value):
            out.append(tuple(_read_string(lambda b, c, n, f=f, i=i: f(self._handle, i, b, c, n))
                             for f in (_lib.hone_executor_node_name,
                                       _lib.hone_executor_node_op_type,
                                       _lib.hone_executor_node_path)))
        return out


# ---- identities and the change ledger ---------------------------------------------------------

_fn("hone_key_generate", [C.POINTER(C.c_void_p)])
_fn("hone_key_load_pem", [C.c_char_p, C.POINTER(C.c_void_p)])
_fn("hone_key_save_pem", [C.c_void_p, C.c_char_p])
_fn("hone_key_public_hex", [C.c_void_p, C.c_char_p, C.c_size_t, C.POINTER(C.c_size_t)])
_fn("hone_key_destroy", [C.c_void_p], None)


class Key:
    """An Ed25519 identity: Key() generates one, Key.load(path) reads a PKCS#8 PEM."""

    def __init__(self, _handle: Optional[C.c_void_p] = None):
        self._handle = _handle or C.c_void_p()
        if _handle is None:
            _check(_lib.hone_key_generate(C.byref(self._handle)))

    @classmethod
    def load(cls, path: str) -> "Key":
        handle = C.c_void_p()
        _check(_lib.hone_key_load_pem(_str(os.fspath(path)), C.byref(handle)))
        return cls(handle)

    def save(self, path: str) -> None:
        """Writes the private key as PEM, atomically, mode 0600."""
        _check(_lib.hone_key_save_pem(self._handle, _str(os.fspath(path))))

    @property
    def public_hex(self) -> str:
        return _read_string(lambda b, c, n: _lib.hone_key_public_hex(self._handle, b, c, n))

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_key_destroy(self._handle)
            self._handle = None


class _ChangeRecord(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("action", C.c_int), ("actor", C.c_char_p),
                ("subject", C.c_uint64), ("artifact_paths", C.POINTER(C.c_char_p)),
                ("artifact_count", C.c_size_t), ("recipe", C.c_char_p), ("data", C.c_char_p),
                ("metrics", C.c_char_p), ("policy", C.c_char_p), ("decision", C.c_char_p),
                ("environment", C.c_char_p), ("note", C.c_char_p)]


class _VerifyParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("require_signatures", C.c_int),
                ("trusted_actors", C.POINTER(C.c_char_p)),
                ("trusted_keys", C.POINTER(C.c_char_p)), ("trusted_count", C.c_size_t),
                ("trust", C.c_void_p), ("strict", C.c_int)]


class _VerifyResult(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("ok", C.c_int), ("records", C.c_uint64), ("first_bad", C.c_uint64),
                ("problem", C.c_char_p)]


class _ArtifactStatus(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("verdict", C.c_int), ("seq", C.c_uint64),
                ("approvals_missing", C.c_uint64),
                ("sha256", C.c_char * 65), ("reason", C.c_char_p)]


class _CycloneDXParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("seq", C.c_uint64)]


_fn("hone_change_record_init", [C.POINTER(_ChangeRecord)])
_fn("hone_ledger_open", [C.c_char_p, C.POINTER(C.c_void_p)])
_fn("hone_ledger_destroy", [C.c_void_p], None)
_fn("hone_ledger_append", [C.c_void_p, C.POINTER(_ChangeRecord), C.c_void_p,
                           C.POINTER(C.c_uint64)])
_fn("hone_ledger_append_trusted", [C.c_void_p, C.POINTER(_ChangeRecord), C.c_void_p, C.c_void_p,
                                   C.POINTER(C.c_uint64)])
_fn("hone_verify_params_init", [C.POINTER(_VerifyParams)])
_fn("hone_ledger_verify", [C.c_void_p, C.POINTER(_VerifyParams), C.POINTER(_VerifyResult)])
_fn("hone_ledger_check_artifact", [C.c_void_p, C.c_char_p, C.POINTER(_VerifyParams),
                                   C.POINTER(_ArtifactStatus)])
_fn("hone_cyclonedx_params_init", [C.POINTER(_CycloneDXParams)])
_fn("hone_ledger_export_cyclonedx", [C.c_void_p, C.POINTER(_CycloneDXParams), C.c_char_p,
                                     C.c_size_t, C.POINTER(C.c_size_t)])


class Ledger:
    """The signed, hash-chained change ledger at `path` (docs/ledger.md); the file appears with
    the first append. Record fields recipe/data/metrics/policy/decision/environment are JSON
    texts."""

    actions = {"baseline": 0, "optimize": 1, "approve": 2, "reject": 3, "promote": 4}
    verdicts = ("approved", "needs_signoff", "rejected", "unknown")

    def __init__(self, path: str):
        self._handle = C.c_void_p()
        _check(_lib.hone_ledger_open(_str(os.fspath(path)), C.byref(self._handle)))

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_ledger_destroy(self._handle)
            self._handle = None

    def append(self, action: str, actor: str, key: Optional[Key] = None, subject: int = 0,
               artifacts: Sequence[str] = (), note: str = "",
               trust: Optional["TrustStore"] = None, **json_fields: str) -> int:
        """Appends a record (signed with `key`; with `trust`, approvals must come from its
        approvers); returns its sequence number. The approval rules of docs/ledger.md apply."""
        r = _ChangeRecord()
        _check(_lib.hone_change_record_init(C.byref(r)))
        if action not in self.actions:
            raise ValueError(f"Ledger.append: action '{action}' is not one of "
                             f"{sorted(self.actions)}")
        r.action, r.actor, r.subject, r.note = self.actions[action], _str(actor), subject, \
            _str(note)
        paths = _strings([os.fspath(a) for a in artifacts])
        if artifacts:
            r.artifact_paths, r.artifact_count = C.cast(paths, C.POINTER(C.c_char_p)), \
                len(artifacts)
        for field, text in json_fields.items():
            if field not in ("recipe", "data", "metrics", "policy", "decision", "environment"):
                raise ValueError(f"Ledger.append: no record field '{field}'")
            setattr(r, field, _str(text))
        seq = C.c_uint64()
        if trust is not None:
            _check(_lib.hone_ledger_append_trusted(self._handle, C.byref(r),
                                                   key._handle if key else None, trust._handle,
                                                   C.byref(seq)))
        else:
            _check(_lib.hone_ledger_append(self._handle, C.byref(r),
                                           key._handle if key else None, C.byref(seq)))
        return seq.value

    def _params(self, require_signatures: bool, trusted: Optional[dict],
                trust: Optional["TrustStore"] = None, strict: bool = False):
        p = _VerifyParams()
        _check(_lib.hone_verify_params_init(C.byref(p)))
        p.require_signatures = int(require_signatures)
        p.trust = trust._handle if trust else None
        p.strict = int(strict)
        trusted = dict(trusted or {})
        actors, keys = _strings(list(trusted)), _strings(list(trusted.values()))
        if trusted:
            p.trusted_actors = C.cast(actors, C.POINTER(C.c_char_p))
            p.trusted_keys = C.cast(keys, C.POINTER(C.c_char_p))
            p.trusted_count = len(trusted)
        p._keep = (actors, keys)
        return p

    def verify(self, require_signatures: bool = False, trusted: Optional[dict] = None,
               trust: Optional["TrustStore"] = None, strict: bool = False) -> dict:
        """{"ok", "records", "first_bad", "problem"}; `trusted` maps actor → public key hex;
        `trust` is a TrustStore, `strict` its strict mode."""
        res = _VerifyResult(struct_size=C.sizeof(_VerifyResult))
        _check(_lib.hone_ledger_verify(self._handle,
                                       C.byref(self._params(require_signatures, trusted, trust,
                                                            strict)),
                                       C.byref(res)))
        return {"ok": bool(res.ok), "records": res.records, "first_bad": res.first_bad,
                "problem": (res.problem or b"").decode()}

    def check_artifact(self, path: str, require_signatures: bool = False,
                       trusted: Optional[dict] = None, trust: Optional["TrustStore"] = None,
                       strict: bool = False) -> dict:
        """Whether these exact bytes were approved: {"verdict", "seq", "approvals_missing",
        "sha256", "reason"}."""
        st = _ArtifactStatus(struct_size=C.sizeof(_ArtifactStatus))
        _check(_lib.hone_ledger_check_artifact(
            self._handle, _str(os.fspath(path)),
            C.byref(self._params(require_signatures, trusted, trust, strict)), C.byref(st)))
        return {"verdict": self.verdicts[st.verdict], "seq": st.seq,
                "approvals_missing": st.approvals_missing, "sha256": st.sha256.decode(),
                "reason": (st.reason or b"").decode()}


    def export_cyclonedx(self, seq: int = 0) -> str:
        """The CycloneDX 1.6 ML-BOM (JSON text) of optimize record `seq` (0: the newest), after
        the whole ledger verified (docs/ledger.md, "CycloneDX ML-BOM")."""
        p = _CycloneDXParams()
        _check(_lib.hone_cyclonedx_params_init(C.byref(p)))
        p.seq = seq
        return _read_string(lambda b, c, n: _lib.hone_ledger_export_cyclonedx(
            self._handle, C.byref(p), b, c, n))


_fn("hone_trust_store_load", [C.c_char_p, C.POINTER(C.c_void_p)])
_fn("hone_trust_store_parse", [C.c_char_p, C.c_size_t, C.c_char_p, C.POINTER(C.c_void_p)])
_fn("hone_trust_store_count", [C.c_void_p, C.POINTER(C.c_size_t)])
_fn("hone_trust_store_holder", [C.c_void_p, C.c_char_p, C.c_char_p, C.c_size_t,
                                C.POINTER(C.c_size_t)])
_fn("hone_trust_store_destroy", [C.c_void_p], None)


class TrustStore:
    """Who holds which Ed25519 key and its roles: lines '<holder> <roles> <public key>'
    (docs/ledger.md). TrustStore.load(path) or TrustStore.parse(text)."""

    def __init__(self, _handle: C.c_void_p):
        self._handle = _handle

    @classmethod
    def load(cls, path: str) -> "TrustStore":
        handle = C.c_void_p()
        _check(_lib.hone_trust_store_load(_str(os.fspath(path)), C.byref(handle)))
        return cls(handle)

    @classmethod
    def parse(cls, text: str, source: str = "trust store") -> "TrustStore":
        data, handle = text.encode(), C.c_void_p()
        _check(_lib.hone_trust_store_parse(data, len(data), _str(source), C.byref(handle)))
        return cls(handle)

    def __len__(self) -> int:
        n = C.c_size_t()
        _check(_lib.hone_trust_store_count(self._handle, C.byref(n)))
        return n.value

    def holder(self, public_hex: str) -> str:
        """Who holds the key `public_hex` (HoneError NOT_FOUND when it is not listed)."""
        key = _str(public_hex)
        return _read_string(lambda b, c, n: _lib.hone_trust_store_holder(self._handle, key, b, c, n))

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_trust_store_destroy(self._handle)
            self._handle = None


class _LoadCheckParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("ledger_path", C.c_char_p), ("trust", C.c_void_p),
                ("strict", C.c_int)]


class _LoadCheckInfo(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("verdict", C.c_int), ("matched_record", C.c_uint64),
                ("chain_records", C.c_uint64), ("chain_intact", C.c_int),
                ("decision_rederived", C.c_int), ("strict", C.c_int),
                ("approvals_required", C.c_uint64), ("approvals_counted", C.c_uint64),
                ("sha256", C.c_char * 65), ("bytes", C.c_uint64), ("signer_holder", C.c_char_p),
                ("reason", C.c_char_p), ("json", C.c_char_p)]


_fn("hone_load_check_params_init", [C.POINTER(_LoadCheckParams)])
_fn("hone_load_check_buffer", [C.c_void_p, C.c_size_t, C.POINTER(_LoadCheckParams),
                               C.POINTER(C.c_void_p)])
_fn("hone_load_check_fd", [C.c_int, C.POINTER(_LoadCheckParams), C.POINTER(C.c_void_p)])
_fn("hone_load_check_get", [C.c_void_p, C.POINTER(_LoadCheckInfo)])
_fn("hone_load_check_destroy", [C.c_void_p], None)


def check_load(data, ledger: str, trust: Optional[TrustStore] = None,
               strict: bool = False) -> dict:
    """The load-time check on what an engine will load: `data` is the bytes (bytes-like) or an
    open file descriptor (int, read from offset 0 with pread). Returns everything verified:
    {"verdict", "reason", "artifact", "matched_record", "chain", "tier", "strict",
    "trust_store", "optimize_signer", "decision_rederived", "approvals"}; only verdict
    "approved" means load it."""
    p = _LoadCheckParams()
    _check(_lib.hone_load_check_params_init(C.byref(p)))
    p.ledger_path = _str(os.fspath(ledger))
    p.trust = trust._handle if trust else None
    p.strict = int(strict)
    result = C.c_void_p()
    if isinstance(data, int):
        _check(_lib.hone_load_check_fd(data, C.byref(p), C.byref(result)))
    else:
        buf = bytes(data)
        _check(_lib.hone_load_check_buffer(buf, len(buf), C.byref(p), C.byref(result)))
    try:
        info = _LoadCheckInfo(struct_size=C.sizeof(_LoadCheckInfo))
        _check(_lib.hone_load_check_get(result, C.byref(info)))
        return json.loads(info.json.decode())
    finally:
        _lib.hone_load_check_destroy(result)


_lib.hone_dtype_name.argtypes, _lib.hone_dtype_name.restype = [C.c_int], C.c_char_p


# ---- the optimize flow -------------------------------------------------------------------------

_SampleFn = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_int64, C.c_int64, C.POINTER(C.c_float),
                        C.POINTER(C.c_int64), C.POINTER(C.c_int64))
_ProgressFn = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_char_p, C.c_uint64, C.c_uint64)
_NoteFn = C.CFUNCTYPE(None, C.c_void_p, C.c_char_p)
_RunnerFactoryFn = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_char_p, C.c_void_p, C.c_size_t,
                               C.POINTER(C.c_void_p))


class _DataSource(C.Structure):
    _fields_ = [("spec", C.c_char_p), ("read", _SampleFn), ("user", C.c_void_p),
                ("sample_shape", C.POINTER(C.c_int64)), ("sample_rank", C.c_size_t),
                ("has_labels", C.c_int)]


class _OptimizeParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("model", C.c_char_p), ("recipe", C.c_char_p),
                ("calib", _DataSource), ("eval", _DataSource), ("policy", C.c_char_p),
                ("out", C.c_char_p), ("format", C.c_char_p), ("ledger", C.c_char_p),
                ("report_dir", C.c_char_p), ("actor", C.c_char_p), ("key_path", C.c_char_p),
                ("input_shape", C.c_char_p), ("seed", C.c_uint64), ("batch", C.c_int64),
                ("latency_batches", C.POINTER(C.c_int64)), ("latency_batch_count", C.c_size_t),
                ("confidence", C.c_double), ("repeats", C.c_int), ("progress", _ProgressFn),
                ("note", _NoteFn), ("user", C.c_void_p), ("tolerable_drop", C.c_double),
                ("relative_drop", C.c_int), ("target_bits_per_weight", C.c_double),
                ("runner_factory", _RunnerFactoryFn), ("runner_user", C.c_void_p),
                ("target_file_bytes", C.c_uint64)]


class _OptimizeSummary(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("verdict", C.c_int),
                ("approvals_missing", C.c_uint32), ("artifact_bytes", C.c_uint64),
                ("baseline_seq", C.c_int64), ("record_seq", C.c_int64),
                ("record_signed", C.c_int)]


_fn("hone_optimize_params_init", [C.POINTER(_OptimizeParams)])
_fn("hone_optimize", [C.POINTER(_OptimizeParams), C.POINTER(C.c_void_p)])
_fn("hone_optimize_result_summary", [C.c_void_p, C.POINTER(_OptimizeSummary)])
_fn("hone_optimize_result_report_json", [C.c_void_p, C.c_char_p, C.c_size_t,
                                         C.POINTER(C.c_size_t)])
_fn("hone_optimize_result_artifact", [C.c_void_p, C.c_size_t, C.c_char_p, C.c_size_t,
                                      C.POINTER(C.c_size_t), C.POINTER(C.c_size_t)])
_fn("hone_optimize_result_destroy", [C.c_void_p], None)


class _ValidateChangeParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("baseline", C.c_char_p), ("candidate", C.c_char_p),
                ("eval", _DataSource), ("policy", C.c_char_p), ("ledger", C.c_char_p),
                ("report_dir", C.c_char_p), ("actor", C.c_char_p), ("key_path", C.c_char_p),
                ("input_shape", C.c_char_p), ("seed", C.c_uint64), ("batch", C.c_int64),
                ("latency_batches", C.POINTER(C.c_int64)), ("latency_batch_count", C.c_size_t),
                ("confidence", C.c_double), ("repeats", C.c_int), ("progress", _ProgressFn),
                ("note", _NoteFn), ("user", C.c_void_p), ("runner_factory", _RunnerFactoryFn),
                ("runner_user", C.c_void_p)]


_fn("hone_validate_change_params_init", [C.POINTER(_ValidateChangeParams)])
_fn("hone_validate_change", [C.POINTER(_ValidateChangeParams), C.POINTER(C.c_void_p)])


def optimize(model: str, recipe: str, calib: str, eval: str, out: str, ledger: str,
             policy: str = "medium", format: str = "qdq", report_dir: Optional[str] = None,
             actor: str = "hone", key: Optional[str] = None, input_shape: Optional[str] = None,
             repeats: int = 20, latency_batches: Sequence[int] = (1, 64),
             progress: Optional[Callable[[str, int, int], bool]] = None,
             note: Optional[Callable[[str], None]] = None,
             tolerable_drop: Optional[float] = None, relative_drop: bool = False,
             target_bpw: Optional[float] = None, target_bytes: Optional[int] = None,
             engine: Optional[Callable[[str, bytes], object]] = None) -> dict:
    """The whole controlled change (hone_optimize, docs/pipeline.md): baseline, recipe (a preset
    such as "int8", a recipe file or JSON text), candidate, validation, decision, artifact, ledger
    records and report. `calib` / `eval` are data specs (docs/cli.md). `progress(stage, done,
    total)` may return False to cancel (HoneError with Status.CANCELLED). `tolerable_drop` (a
    fraction; relative to the baseline with `relative_drop`) runs the accuracy-aware search: the
    layers that cost most accuracy stay in f32 until the drop on calibration samples is within
    it; its trials are in report["search"]. `target_bpw` chooses each layer's precision (8 or 4
    bits, or f32) under that many bits per weight with the least measured output noise; the
    allocation is in report["budget"]; `target_bytes` does the same with the deployable file's
    size as the target (report["budget"]["file_bytes"] is the file's). `engine(role, onnx_bytes)` validates on the engine's own
    runners: hone calls it with "baseline" and the baseline's ONNX bytes, then "candidate" and
    the deployable file's exact bytes; it returns a Runner, or what Runner() takes (an Executor,
    or a function from an input batch to logits). The format must be "qdq" or "matmulnbits";
    an exception in it (or in its runner) stops the run and is raised again. Returns {"verdict",
    "approvals_missing", "artifacts", "artifact_bytes", "baseline_seq", "record_seq",
    "record_signed", "report"} — the report being the evidence document as a dict."""
    p = _OptimizeParams()
    _check(_lib.hone_optimize_params_init(C.byref(p)))
    p.model, p.recipe, p.out, p.ledger = _str(model), recipe.encode(), _str(out), _str(ledger)
    p.calib.spec, p.eval.spec = calib.encode(), eval.encode()
    p.policy, p.format, p.actor = policy.encode(), format.encode(), actor.encode()
    p.report_dir = _str(report_dir)
    p.key_path = _str(key)
    p.input_shape = None if input_shape is None else input_shape.encode()
    p.repeats = repeats
    if tolerable_drop is not None:
        p.tolerable_drop = tolerable_drop
    p.relative_drop = 1 if relative_drop else 0
    if target_bpw is not None:
        p.target_bits_per_weight = target_bpw
    if target_bytes is not None:
        if target_bytes < 1:
            raise ValueError(f"target_bytes {target_bytes} must be at least 1")
        p.target_file_bytes = target_bytes
    batches = (C.c_int64 * len(latency_batches))(*latency_batches)
    p.latency_batches, p.latency_batch_count = batches, len(latency_batches)
    return _run_flow(_lib.hone_optimize, p, progress, note, engine)


def _run_flow(call, p, progress, note, engine) -> dict:
    """Runs hone_optimize or hone_validate_change with the callbacks wired, and reads the
    conclusion (see optimize)."""
    errors = []

    def on_progress(_user, stage, done, total):
        try:
            return 1 if progress(stage.decode(), done, total) is not False else 0
        except BaseException as e:  # stop the run; re-raised below
            errors.append(e)
            return 0

    def on_note(_user, text):
        note(text.decode(errors="replace"))

    runners = []  # alive until the call returns: hone runs them through their callbacks

    def on_runner(_user, role, data, size, out):
        try:
            from .algorithms import Runner
            made = engine(role.decode(), C.string_at(data, size))
            runner = made if isinstance(made, Runner) else Runner(made, name=f"engine {role.decode()}")
            runners.append(runner)
            out[0] = runner._handle.value
            runner._handle = None  # hone destroys the hone_runner
            return Status.OK
        except BaseException as e:  # stop the run; re-raised below
            errors.append(e)
            return Status.INVALID_ARGUMENT

    keep = (_ProgressFn(on_progress) if progress else _ProgressFn(),
            _NoteFn(on_note) if note else _NoteFn(),
            _RunnerFactoryFn(on_runner) if engine else _RunnerFactoryFn())
    p.progress, p.note, p.runner_factory = keep
    result = C.c_void_p()
    status = call(C.byref(p), C.byref(result))
    errors += [e for r in runners for e in r.raised]
    if errors:
        if status == Status.OK:
            _lib.hone_optimize_result_destroy(result)
        raise errors[0]
    _check(status)
    try:
        s = _OptimizeSummary()
        s.struct_size = C.sizeof(s)
        _check(_lib.hone_optimize_result_summary(result, C.byref(s)))
        report = json.loads(_read_string(
            lambda b, c, n: _lib.hone_optimize_result_report_json(result, b, c, n)))
        count = C.c_size_t()
        _lib.hone_optimize_result_artifact(result, 0, None, 0, None, C.byref(count))
        artifacts = [_read_string(
            lambda b, c, n, i=i: _lib.hone_optimize_result_artifact(result, i, b, c, n, None))
            for i in range(count.value)]
        return {"verdict": ("approved", "needs_signoff", "rejected")[s.verdict],
                "approvals_missing": s.approvals_missing, "artifacts": artifacts,
                "artifact_bytes": s.artifact_bytes,
                "baseline_seq": None if s.baseline_seq < 0 else s.baseline_seq,
                "record_seq": None if s.record_seq < 0 else s.record_seq,
                "record_signed": bool(s.record_signed), "report": report}
    finally:
        _lib.hone_optimize_result_destroy(result)


def validate_change(baseline: str, candidate: str, eval: str, policy: str = "medium",
                    ledger: Optional[str] = None, report_dir: Optional[str] = None,
                    actor: str = "hone", key: Optional[str] = None,
                    input_shape: Optional[str] = None, repeats: int = 20,
                    latency_batches: Sequence[int] = (1, 64),
                    progress: Optional[Callable[[str, int, int], bool]] = None,
                    note: Optional[Callable[[str], None]] = None,
                    engine: Optional[Callable[[str, bytes], object]] = None) -> dict:
    """A candidate made elsewhere against its baseline (hone_validate_change, `hone validate`):
    both ONNX files run as their doc strings say, on the `eval` data spec; the policy decides;
    a record goes into `ledger` when given. The other arguments are optimize's. Returns
    optimize's dict; "artifacts" is [candidate], "artifact_bytes" its size."""
    p = _ValidateChangeParams()
    _check(_lib.hone_validate_change_params_init(C.byref(p)))
    p.baseline, p.candidate = _str(baseline), _str(candidate)
    p.eval.spec = eval.encode()
    p.policy, p.actor = policy.encode(), actor.encode()
    p.ledger, p.report_dir, p.key_path = _str(ledger), _str(report_dir), _str(key)
    p.input_shape = None if input_shape is None else input_shape.encode()
    p.repeats = repeats
    batches = (C.c_int64 * len(latency_batches))(*latency_batches)
    p.latency_batches, p.latency_batch_count = batches, len(latency_batches)
    return _run_flow(_lib.hone_validate_change, p, progress, note, engine)

# ---- algorithms (quantizer, calibrator, pruning, clustering, policy, validation) ---------------

from . import algorithms  # noqa: E402 — needs everything above
from .algorithms import *  # noqa: E402,F401,F403
from . import training  # noqa: E402 — fine-tuning
from .training import *  # noqa: E402,F401,F403

__all__ += algorithms.__all__ + training.__all__
