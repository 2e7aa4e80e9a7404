"""hone's algorithms for Python, through the C ABI (include/hone/hone.h): the weight quantizer,
the activation calibrator, SmoothQuant and bias correction, pruning (unstructured, N:M, blocks,
Wanda, SparseGPT, whole channels), sparse storage, clustering, policies and validation.

Conventions are those of the package (hone/__init__.py): params structs are filled by their
_params_init before fields are set; every failing call raises HoneError with the C status and
message; handles are owned by Python objects. Inputs are Tensors or buffers (NumPy arrays of any
float dtype are converted to float32, contiguous); outputs are Tensors (`.numpy()`, `.tolist()`).
Functions that prune work on a copy: the caller's weights are never changed. An unknown name for
an option (method="foo") raises ValueError, as elsewhere in the binding.
"""

from __future__ import annotations

import ctypes as C
import json
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from . import (MAX_RANK, DType, Executor, HoneError, Status, Tensor, _check, _fn, _lib,
               _QuantSpec, _read_string, _str, _strings)

__all__ = [
    "QuantizedTensor", "Quantizer", "quantize", "Calibrator", "PruneResult", "pruned_count",
    "prune_magnitude", "prune_global", "prune_n_m", "prune_blocks", "prune_wanda",
    "prune_sparsegpt", "LayerStats", "mask_of", "sparsity_of", "Clustered", "cluster",
    "kmeans1d", "Policy", "Runner", "Validation", "validate", "SmoothQuant", "smooth_quant",
    "bias_correction", "ChannelPruneResult", "prune_channels", "SparseTensor", "sparse_encode",
]


def _option(table: dict, value, what: str) -> int:
    if value not in table:
        raise ValueError(f"{what} '{value}' is not one of {sorted(table)}")
    return table[value]


def _f32(x, what: str = "tensor") -> Tensor:
    """A Tensor for x: a Tensor as is, a NumPy array as contiguous float32, else any buffer."""
    if isinstance(x, Tensor):
        return x
    try:
        import numpy
    except ImportError:  # no NumPy: buffers with a format only
        numpy = None
    if numpy is not None and (isinstance(x, (list, tuple)) or
                              (isinstance(x, numpy.ndarray) and x.dtype.kind == "f")):
        x = numpy.ascontiguousarray(x, dtype=numpy.float32)
    return Tensor.from_buffer(x)


def _copy(t: Tensor) -> Tensor:
    out = Tensor(t.dtype, t.shape)
    _check(_lib.hone_tensor_copy(t._handle, out._handle))
    return out


def _tensor_or_none(x) -> Optional[Tensor]:
    return None if x is None else _f32(x)


def _ptr(t: Optional[Tensor]):
    return None if t is None else t._handle


# ---- the weight quantizer ----------------------------------------------------------------------

class _QuantizerParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("spec", _QuantSpec), ("method", C.c_int),
                ("clip_steps", C.c_int), ("clip_min_ratio", C.c_float), ("clip_norm", C.c_float),
                ("gptq_damp_fraction", C.c_double), ("gptq_act_order", C.c_int),
                ("gptq_block_size", C.c_int64), ("gptq_static_groups", C.c_int),
                ("gptq_clip_search", C.c_int), ("awq_grid", C.c_int),
                ("awq_max_rows", C.c_int64), ("awq_clip_search", C.c_int)]


class _QuantReport(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("elements", C.c_int64), ("mse", C.c_double),
                ("max_abs_error", C.c_double), ("sqnr_db", C.c_double),
                ("fraction_clipped", C.c_double), ("has_output", C.c_int),
                ("output_mse", C.c_double), ("output_sqnr_db", C.c_double)]


_P = C.POINTER
_VP = C.c_void_p
_fn("hone_quant_spec_init", [_P(_QuantSpec)])
_fn("hone_quantizer_params_init", [_P(_QuantizerParams)])
_fn("hone_quantizer_create", [_P(_QuantizerParams), _P(_VP)])
_fn("hone_quantizer_destroy", [_VP], None)
_fn("hone_quantizer_run", [_VP, _VP, C.c_char_p, _VP, _VP, _P(_VP), _P(_VP), _P(_QuantReport)])
_fn("hone_quantized_tensor_create", [_P(_QuantSpec), _P(C.c_int64), C.c_size_t, _VP, _VP, _VP,
                                     _P(_VP)])
_fn("hone_quantized_tensor_destroy", [_VP], None)
_fn("hone_quantized_tensor_spec", [_VP, _P(_QuantSpec)])
_fn("hone_quantized_tensor_shape", [_VP, _P(C.c_int64), C.c_size_t, _P(C.c_size_t)])
_fn("hone_quantized_tensor_bytes", [_VP, _P(C.c_size_t)])
_fn("hone_quantized_tensor_parts", [_VP, _P(_VP), _P(_VP), _P(_VP)])
_fn("hone_quantized_tensor_dequantize", [_VP, _VP])
_fn("hone_quantized_tensor_measure_error", [_VP, _VP, C.c_char_p, _VP, _VP, _P(_QuantReport)])

_GRANULARITIES = {"per_tensor": 0, "per_channel": 1, "per_group": 2}
_WEIGHT_METHODS = {"rtn": 0, "clip_search": 1, "gptq": 2, "awq": 3}
_SCALE_DTYPES = {"f32": DType.F32, "f16": DType.F16}
_QUANTIZER_OPTIONS = ("clip_steps", "clip_min_ratio", "clip_norm", "gptq_damp_fraction",
                      "gptq_act_order", "gptq_block_size", "gptq_static_groups",
                      "gptq_clip_search", "awq_grid", "awq_max_rows", "awq_clip_search")


def _spec_dict(s: _QuantSpec) -> dict:
    names = {v: k for k, v in _GRANULARITIES.items()}
    return {"bits": s.bits, "signed": bool(s.is_signed), "symmetric": bool(s.symmetric),
            "granularity": names.get(s.granularity, s.granularity),
            "channel_axis": s.channel_axis, "group_axis": s.group_axis,
            "group_size": s.group_size, "scale_dtype": "f16" if s.scale_dtype == DType.F16
            else "f32"}


def _fill_spec(s: _QuantSpec, bits, granularity, channel_axis, group_axis, group_size,
               symmetric, signed, scale_dtype) -> None:
    s.bits, s.is_signed, s.symmetric = bits, int(signed), int(symmetric)
    s.granularity = _option(_GRANULARITIES, granularity, "granularity")
    s.channel_axis, s.group_axis = channel_axis, group_axis
    if group_size is not None:
        s.group_size = group_size
    s.scale_dtype = _option(_SCALE_DTYPES, scale_dtype, "scale_dtype")


def _report_dict(r: _QuantReport) -> dict:
    out = {"elements": r.elements, "mse": r.mse, "max_abs_error": r.max_abs_error,
           "sqnr_db": r.sqnr_db, "fraction_clipped": r.fraction_clipped}
    if r.has_output:
        out.update(output_mse=r.output_mse, output_sqnr_db=r.output_sqnr_db)
    return out


class QuantizedTensor:
    """A packed low-bit tensor (hone_quantized_tensor, layouts in docs/quantizer.md). From
    Quantizer.run / quantize(), or QuantizedTensor.from_parts. `.report` is the error report of
    the run that made it (None otherwise), `.input_scales` AWQ's input scales (else None)."""

    def __init__(self, _handle: C.c_void_p):
        self._handle = _handle
        self.report: Optional[dict] = None
        self.input_scales: Optional[Tensor] = None

    @classmethod
    def from_parts(cls, shape: Sequence[int], data, scales, zero_points=None, bits: int = 8,
                   granularity: str = "per_channel", channel_axis: int = 0,
                   group_axis: int = -1, group_size: Optional[int] = None,
                   symmetric: bool = True, signed: bool = True,
                   scale_dtype: str = "f32") -> "QuantizedTensor":
        """A quantized tensor from its parts (copied and checked against the spec): `data` and
        `zero_points` are Tensors of the packed dtype (docs/quantizer.md), `scales` F32/F16."""
        spec = _QuantSpec()
        _check(_lib.hone_quant_spec_init(C.byref(spec)))
        _fill_spec(spec, bits, granularity, channel_axis, group_axis, group_size, symmetric,
                   signed, scale_dtype)
        dims = (C.c_int64 * max(len(shape), 1))(*shape)
        d, s = data if isinstance(data, Tensor) else Tensor.from_buffer(data), _f32(scales)
        z = None if zero_points is None else (
            zero_points if isinstance(zero_points, Tensor) else Tensor.from_buffer(zero_points))
        handle = C.c_void_p()
        _check(_lib.hone_quantized_tensor_create(C.byref(spec), dims, len(shape), d._handle,
                                                 s._handle, _ptr(z), C.byref(handle)))
        return cls(handle)

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_quantized_tensor_destroy(self._handle)
            self._handle = None

    close = __del__

    @property
    def spec(self) -> dict:
        s = _QuantSpec()
        _check(_lib.hone_quant_spec_init(C.byref(s)))
        _check(_lib.hone_quantized_tensor_spec(self._handle, C.byref(s)))
        return _spec_dict(s)

    @property
    def shape(self) -> tuple:
        """The original (f32) shape."""
        rank = C.c_size_t()
        dims = (C.c_int64 * MAX_RANK)()
        _check(_lib.hone_quantized_tensor_shape(self._handle, dims, MAX_RANK, C.byref(rank)))
        return tuple(dims[: rank.value])

    @property
    def bytes(self) -> int:
        """Stored bytes: data + scales + zero points."""
        out = C.c_size_t()
        _check(_lib.hone_quantized_tensor_bytes(self._handle, C.byref(out)))
        return out.value

    def parts(self) -> tuple:
        """(data, scales, zero_points) as new Tensors; zero_points is empty ([0]) for signed
        symmetric specs."""
        d, s, z = C.c_void_p(), C.c_void_p(), C.c_void_p()
        _check(_lib.hone_quantized_tensor_parts(self._handle, C.byref(d), C.byref(s),
                                                C.byref(z)))
        return Tensor._adopt(d), Tensor._adopt(s), Tensor._adopt(z)

    def dequantize(self) -> Tensor:
        """The exact f32 values, of the original shape."""
        out = Tensor(DType.F32, self.shape)
        _check(_lib.hone_quantized_tensor_dequantize(self._handle, out._handle))
        return out

    def measure_error(self, original, inputs=None, input_scales=None,
                      name: Optional[str] = None) -> dict:
        """The error report against `original` ({"elements", "mse", "max_abs_error",
        "sqnr_db", "fraction_clipped"}, plus "output_mse", "output_sqnr_db" when calibration
        `inputs` [M, K] are given)."""
        o, x, s = _f32(original), _tensor_or_none(inputs), _tensor_or_none(input_scales)
        r = _QuantReport()
        r.struct_size = C.sizeof(r)
        _check(_lib.hone_quantized_tensor_measure_error(self._handle, o._handle, _str(name),
                                                        _ptr(x), _ptr(s), C.byref(r)))
        return _report_dict(r)


class Quantizer:
    """A weight quantizer (hone_quantizer; docs/quantizer.md), configured once, run many times.

    bits 2…8; granularity "per_tensor", "per_channel" (along channel_axis) or "per_group"
    (group_size along group_axis, the last axis by default); method "rtn", "clip_search",
    "gptq" (needs a Hessian or calibration inputs) or "awq" (needs inputs). Further options are
    the fields of hone_quantizer_params: clip_steps, clip_min_ratio, clip_norm,
    gptq_damp_fraction, gptq_act_order, gptq_block_size, gptq_static_groups, gptq_clip_search,
    awq_grid, awq_max_rows, awq_clip_search."""

    def __init__(self, bits: int = 8, granularity: str = "per_channel", channel_axis: int = 0,
                 group_axis: int = -1, group_size: Optional[int] = None, symmetric: bool = True,
                 signed: bool = True, scale_dtype: str = "f32", method: str = "rtn",
                 **options):
        p = _QuantizerParams()
        _check(_lib.hone_quantizer_params_init(C.byref(p)))
        _fill_spec(p.spec, bits, granularity, channel_axis, group_axis, group_size, symmetric,
                   signed, scale_dtype)
        p.method = _option(_WEIGHT_METHODS, method, "Quantizer: method")
        for key, value in options.items():
            if key not in _QUANTIZER_OPTIONS:
                raise ValueError(f"Quantizer: no option '{key}' (one of "
                                 f"{sorted(_QUANTIZER_OPTIONS)})")
            setattr(p, key, int(value) if isinstance(value, bool) else value)
        self._handle = C.c_void_p()
        _check(_lib.hone_quantizer_create(C.byref(p), C.byref(self._handle)))

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_quantizer_destroy(self._handle)
            self._handle = None

    close = __del__

    def run(self, weights, inputs=None, hessian=None, name: Optional[str] = None
            ) -> QuantizedTensor:
        """Quantizes `weights` (F32; [N, K] for GPTQ / AWQ). `inputs`: the layer's calibration
        inputs [M, K] (AWQ, GPTQ, and the report's output figures); `hessian`: [K, K] = sum of
        xᵀx (GPTQ). The result carries .report and, for AWQ, .input_scales."""
        w, x, h = _f32(weights), _tensor_or_none(inputs), _tensor_or_none(hessian)
        out, scales = C.c_void_p(), C.c_void_p()
        r = _QuantReport()
        r.struct_size = C.sizeof(r)
        _check(_lib.hone_quantizer_run(self._handle, w._handle, _str(name), _ptr(x),
                                       _ptr(h), C.byref(out), C.byref(scales), C.byref(r)))
        q = QuantizedTensor(out)
        q.report = _report_dict(r)
        q.input_scales = Tensor._adopt(scales) if scales.value else None
        return q


def quantize(weights, bits: int = 8, granularity: str = "per_channel", group_size=None,
             symmetric: bool = True, method: str = "rtn", inputs=None, hessian=None,
             name: Optional[str] = None, **options) -> QuantizedTensor:
    """Quantizer(bits=..., granularity=..., ...).run(weights, inputs, hessian, name); options
    as Quantizer (channel_axis, group_axis, signed, scale_dtype, clip_steps, ...)."""
    return Quantizer(bits=bits, granularity=granularity, group_size=group_size,
                     symmetric=symmetric, method=method, **options).run(weights, inputs, hessian,
                                                                        name)


# ---- the activation calibrator -----------------------------------------------------------------

class _CalibratorParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("method", C.c_int), ("granularity", C.c_int),
                ("axis", C.c_int), ("dtype", C.c_int), ("scheme", C.c_int),
                ("reduce_range", C.c_int), ("momentum", C.c_float),
                ("percentile", C.c_double), ("bins", C.c_int64), ("name", C.c_char_p)]


_fn("hone_calibrator_params_init", [_P(_CalibratorParams)])
_fn("hone_calibrator_create", [_P(_CalibratorParams), _P(_VP)])
_fn("hone_calibrator_destroy", [_VP], None)
_fn("hone_calibrator_observe", [_VP, _VP])
_fn("hone_calibrator_set_consumer", [_VP, _VP, _VP])
_fn("hone_calibrator_score", [_VP, _VP])
_fn("hone_calibrator_channels", [_VP, _P(C.c_int64)])
_fn("hone_calibrator_result", [_VP, _VP, _VP, _VP, _VP])
_fn("hone_calibrator_qparams", [_VP, _P(C.c_float), _P(C.c_int32)])


class Calibrator:
    """Static activation calibration (hone_calibrator; docs/calibration.md).

    method "min_max", "moving_average", "percentile", "entropy", "mse" or "auto" (then a second
    pass with score() over the same batches); granularity "per_tensor" or "per_channel" (along
    `axis`); dtype "u8" or "i8"; scheme "affine" or "symmetric"."""

    methods = {"min_max": 0, "moving_average": 1, "percentile": 2, "entropy": 3, "mse": 4,
               "auto": 5}
    _dtypes = {"u8": DType.U8, "i8": DType.I8}
    _schemes = {"affine": 0, "symmetric": 1}

    def __init__(self, method: str = "min_max", granularity: str = "per_tensor", axis: int = 0,
                 dtype: str = "u8", scheme: str = "affine", reduce_range: bool = False,
                 momentum: Optional[float] = None, percentile: Optional[float] = None,
                 bins: Optional[int] = None, name: Optional[str] = None):
        p = _CalibratorParams()
        _check(_lib.hone_calibrator_params_init(C.byref(p)))
        p.method = _option(self.methods, method, "Calibrator: method")
        p.granularity = _option(_GRANULARITIES, granularity, "Calibrator: granularity")
        p.axis = axis
        p.dtype = _option(self._dtypes, dtype, "Calibrator: dtype")
        p.scheme = _option(self._schemes, scheme, "Calibrator: scheme")
        p.reduce_range = int(reduce_range)
        if momentum is not None:
            p.momentum = momentum
        if percentile is not None:
            p.percentile = percentile
        if bins is not None:
            p.bins = bins
        p.name = _str(name)  # copied by the library
        self._zero_point_dtype = p.dtype
        self._handle = C.c_void_p()
        _check(_lib.hone_calibrator_create(C.byref(p), C.byref(self._handle)))
        self._consumer = None

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_calibrator_destroy(self._handle)
            self._handle = None

    close = __del__

    def observe(self, batch) -> None:
        b = _f32(batch)  # held: the tensor must live through the call
        _check(_lib.hone_calibrator_observe(self._handle, b._handle))

    def set_consumer(self, weights, deployed=None) -> None:
        """AUTO, per tensor: score candidates by the next layer's output error (W [N, K]
        reference weights, `deployed` the quantized ones; None = W)."""
        w, d = _f32(weights), _tensor_or_none(deployed)
        _check(_lib.hone_calibrator_set_consumer(self._handle, w._handle, _ptr(d)))

    def score(self, batch) -> None:
        b = _f32(batch)
        _check(_lib.hone_calibrator_score(self._handle, b._handle))

    @property
    def channels(self) -> int:
        out = C.c_int64()
        _check(_lib.hone_calibrator_channels(self._handle, C.byref(out)))
        return out.value

    def result(self) -> dict:
        """{"scale", "zero_point", "min", "max"}: one value per channel, as lists."""
        n = self.channels
        scale, lo, hi = (Tensor(DType.F32, [n]) for _ in range(3))
        zero_point = Tensor(self._zero_point_dtype, [n])
        _check(_lib.hone_calibrator_result(self._handle, scale._handle, zero_point._handle,
                                           lo._handle, hi._handle))
        return {"scale": scale.tolist(), "zero_point": zero_point.tolist(), "min": lo.tolist(),
                "max": hi.tolist()}

    def qparams(self) -> tuple:
        """(scale, zero_point) of channel 0 (the per-tensor result)."""
        scale, zero_point = C.c_float(), C.c_int32()
        _check(_lib.hone_calibrator_qparams(self._handle, C.byref(scale), C.byref(zero_point)))
        return scale.value, zero_point.value


# ---- SmoothQuant and bias correction -----------------------------------------------------------

class _SmoothQuantParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("alphas", _P(C.c_float)),
                ("alpha_count", C.c_size_t), ("act_dtype", C.c_int), ("act_scheme", C.c_int),
                ("reduce_range", C.c_int), ("name", C.c_char_p)]


_fn("hone_smooth_quant_params_init", [_P(_SmoothQuantParams)])
_fn("hone_smooth_quant_create", [_VP, _P(_SmoothQuantParams), _P(_VP)])
_fn("hone_smooth_quant_destroy", [_VP], None)
_fn("hone_smooth_quant_observe", [_VP, _VP])
_fn("hone_smooth_quant_score", [_VP, _VP])
_fn("hone_smooth_quant_result", [_VP, _P(C.c_float), _VP, _VP, _P(C.c_double), _P(C.c_double)])
_fn("hone_bias_correction", [_VP, _VP, _VP, _VP, _VP, _VP])


class SmoothQuant:
    """SmoothQuant (hone_smooth_quant; Xiao et al. 2022) for a linear layer y = x·Wᵀ, W F32
    [N, K]: s_j = max|X_j|^α / max|W_j|^(1−α) per input channel j, the layer then computed as
    (x / s)·(W·s)ᵀ. Dead channels get s_j = 1; factors are clamped to [1e-5, 1e5].

    Two passes over the same calibration batches (F32 [M, K]): observe() on each, then score()
    on each; result() gives the α of the grid with the least W8A8 output error (weights per
    output channel symmetric int8 RTN, activations x / s per tensor static min/max).

    alphas: the grid, each in [0, 1] (default None = 0, 0.05, …, 1); act_dtype "u8" (default)
    or "i8" and act_scheme "affine" (default) or "symmetric": the activation quantization the
    search assumes; reduce_range: 7-bit activations (default False); name: the layer in errors
    (default "layer"). The weights are copied."""

    def __init__(self, weights, alphas: Optional[Sequence[float]] = None, act_dtype: str = "u8",
                 act_scheme: str = "affine", reduce_range: bool = False,
                 name: Optional[str] = None):
        p = _SmoothQuantParams()
        _check(_lib.hone_smooth_quant_params_init(C.byref(p)))
        if alphas is not None:
            alphas = [float(a) for a in alphas]
            grid = (C.c_float * max(len(alphas), 1))(*alphas)  # alive with p (and copied)
            p.alphas, p.alpha_count = grid, len(alphas)
        p.act_dtype = _option(Calibrator._dtypes, act_dtype, "SmoothQuant: act_dtype")
        p.act_scheme = _option(Calibrator._schemes, act_scheme, "SmoothQuant: act_scheme")
        p.reduce_range = int(reduce_range)
        p.name = _str(name)  # copied by the library, as the alphas
        w = _f32(weights)
        self.shape = w.shape  # [N, K]
        self._handle = C.c_void_p()
        _check(_lib.hone_smooth_quant_create(w._handle, C.byref(p), C.byref(self._handle)))

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_smooth_quant_destroy(self._handle)
            self._handle = None

    close = __del__

    def __enter__(self) -> "SmoothQuant":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def observe(self, x) -> None:
        """Pass one: per-input-channel ranges of a batch x F32 [M, K]."""
        b = _f32(x)
        _check(_lib.hone_smooth_quant_observe(self._handle, b._handle))

    def score(self, x) -> None:
        """Pass two: each α's output error on a batch (the batches of pass one, again)."""
        b = _f32(x)
        _check(_lib.hone_smooth_quant_score(self._handle, b._handle))

    def result(self) -> dict:
        """{"alpha": the best α of the grid (ties: the first), "scales": s, F32 [K] (feed x / s
        to the layer), "weights": W·s, F32 [N, K], "error_before": the summed squared W8A8
        output error without smoothing, "error_after": the same at the best α}. Keeping the
        layer unsmoothed when error_before is lower is the caller's choice."""
        n, k = self.shape
        scales, weights = Tensor(DType.F32, [k]), Tensor(DType.F32, [n, k])
        alpha, before, after = C.c_float(), C.c_double(), C.c_double()
        _check(_lib.hone_smooth_quant_result(self._handle, C.byref(alpha), scales._handle,
                                             weights._handle, C.byref(before), C.byref(after)))
        return {"alpha": alpha.value, "scales": scales, "weights": weights,
                "error_before": before.value, "error_after": after.value}


def smooth_quant(weights, batches: Sequence, **options) -> dict:
    """Both SmoothQuant passes over `batches` (each F32 [M, K]) and the result: SmoothQuant(
    weights, **options) (alphas, act_dtype, act_scheme, reduce_range, name), observe() then
    score() on every batch, result()."""
    batches = [_f32(b) for b in batches]
    with SmoothQuant(weights, **options) as sq:
        for b in batches:
            sq.observe(b)
        for b in batches:
            sq.score(b)
        return sq.result()


def bias_correction(weights, deployed, mean_x, bias=None, mean_xq=None) -> Tensor:
    """Bias correction (hone_bias_correction; Nagel et al. 2019): the bias that cancels the
    expected output shift of quantized weights, bias + W·E[x] − Wq·E[xq], as a new F32 [N].
    weights W and deployed Wq (e.g. QuantizedTensor.dequantize()): F32 [N, K]; mean_x: the
    calibration inputs' mean, F32 [K]; bias: F32 [N] (default None = zeros); mean_xq: the mean of
    the quantized inputs, F32 [K] (default None = mean_x, weight-only quantization)."""
    w, d, mx = _f32(weights), _f32(deployed), _f32(mean_x)
    b, mq = _tensor_or_none(bias), _tensor_or_none(mean_xq)
    out = Tensor(DType.F32, [w.shape[0] if w.shape else 0])
    _check(_lib.hone_bias_correction(w._handle, d._handle, _ptr(b), mx._handle, _ptr(mq),
                                     out._handle))
    return out


# ---- pruning -----------------------------------------------------------------------------------

class _PruneResult(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("total", C.c_int64), ("pruned", C.c_int64),
                ("threshold", C.c_float), ("loss", C.c_double)]


_ColumnQuantizer = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_int64, _P(C.c_float), C.c_int64)


class _SparseGptParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("sparsity", C.c_double), ("n", C.c_int),
                ("m", C.c_int), ("block_size", C.c_int64), ("damp_fraction", C.c_double),
                ("quant_bits", C.c_int), ("quantize", _ColumnQuantizer),
                ("user_data", C.c_void_p)]


_fn("hone_pruned_count", [C.c_double, C.c_int64, _P(C.c_int64)])
_fn("hone_prune_magnitude", [_VP, C.c_double, _VP, _P(_PruneResult)])
_fn("hone_prune_global", [_P(_VP), C.c_size_t, C.c_double, _P(C.c_double), _P(C.c_double),
                          _P(_VP), _P(_PruneResult)])
_fn("hone_prune_n_m", [_VP, C.c_int, C.c_int, _VP, _P(_PruneResult)])
_fn("hone_prune_blocks", [_VP, C.c_int64, C.c_int64, C.c_double, C.c_int, _VP,
                          _P(_PruneResult)])
_fn("hone_layer_stats_create", [C.c_int64, C.c_int, _P(_VP)])
_fn("hone_layer_stats_destroy", [_VP], None)
_fn("hone_layer_stats_add", [_VP, _VP])
_fn("hone_layer_stats_tokens", [_VP, _P(C.c_int64)])
_fn("hone_layer_stats_hessian", [_VP, _VP])
_fn("hone_layer_stats_column_norms", [_VP, _VP])
_fn("hone_prune_wanda", [_VP, _VP, C.c_double, C.c_int, C.c_int, _VP, _P(_PruneResult)])
_fn("hone_sparsegpt_params_init", [_P(_SparseGptParams)])
_fn("hone_prune_sparsegpt", [_P(_SparseGptParams), _VP, _VP, _VP, _P(_PruneResult),
                             _P(C.c_float)])
_fn("hone_mask_of", [_VP, _VP])
_fn("hone_sparsity_of", [_VP, _P(C.c_double)])


@dataclass
class PruneResult:
    """What a pruning call did: the pruned copy of the weights, the mask (U8, 1 = kept), the
    weights considered and pruned, the weakest kept |w| or score (+inf when none is kept),
    SparseGPT's OBS loss estimate (0 otherwise) and, for SparseGPT with quant_bits, the per-row
    RTN grid steps."""
    weights: Tensor
    mask: Tensor
    total: int
    pruned: int
    threshold: float
    loss: float
    row_scales: Optional[list] = None


def _prune_target(weights) -> tuple:
    """(a copy of the weights to prune in place, a U8 mask of their shape, a result struct)."""
    w = _copy(_f32(weights))
    r = _PruneResult()
    r.struct_size = C.sizeof(r)
    return w, Tensor(DType.U8, w.shape), r


def _result(w: Tensor, mask: Tensor, r: _PruneResult, row_scales=None) -> PruneResult:
    return PruneResult(w, mask, r.total, r.pruned, r.threshold, r.loss, row_scales)


def pruned_count(sparsity: float, n: int) -> int:
    """floor(sparsity·n + 1/2): how many of n weights any sparsity-based call prunes."""
    out = C.c_int64()
    _check(_lib.hone_pruned_count(sparsity, n, C.byref(out)))
    return out.value


def prune_magnitude(weights, sparsity: float) -> PruneResult:
    """Unstructured magnitude pruning to an exact sparsity: the pruned_count(sparsity, n)
    smallest |w| become +0 (ties: the lower flat index is kept)."""
    w, mask, r = _prune_target(weights)
    _check(_lib.hone_prune_magnitude(w._handle, sparsity, mask._handle, C.byref(r)))
    return _result(w, mask, r)


def prune_global(weights: Sequence, sparsity: float,
                 min_sparsity: Optional[Sequence[float]] = None,
                 max_sparsity: Optional[Sequence[float]] = None) -> list:
    """Global magnitude pruning of several tensors by one |w| threshold (each layer's share
    clamped to [min_sparsity[i], max_sparsity[i]]); one PruneResult per tensor."""
    targets = [_prune_target(w) for w in weights]
    count = len(targets)
    ws = (C.c_void_p * max(count, 1))(*[t[0]._handle.value for t in targets])
    masks = (C.c_void_p * max(count, 1))(*[t[1]._handle.value for t in targets])
    results = (_PruneResult * max(count, 1))()
    for r in results:
        r.struct_size = C.sizeof(_PruneResult)

    def bounds(values, what):
        if values is None:
            return None
        values = list(values)
        if len(values) != count:
            raise HoneError(Status.INVALID_ARGUMENT, f"prune_global: {what} has {len(values)} "
                                                     f"values for {count} tensors")
        return (C.c_double * max(count, 1))(*values)

    lo, hi = bounds(min_sparsity, "min_sparsity"), bounds(max_sparsity, "max_sparsity")
    _check(_lib.hone_prune_global(ws, count, sparsity, lo, hi, masks, results))
    return [_result(t[0], t[1], results[i]) for i, t in enumerate(targets)]


def prune_n_m(weights, n: int, m: int) -> PruneResult:
    """N:M semi-structured pruning along K (weights read as [rows, K]): each group of m
    consecutive weights keeps its n largest |w| (1 <= n < m <= 32, m dividing K)."""
    w, mask, r = _prune_target(weights)
    _check(_lib.hone_prune_n_m(w._handle, n, m, mask._handle, C.byref(r)))
    return _result(w, mask, r)


_IMPORTANCES = {"l1": 0, "l2": 1}


def prune_blocks(weights, block_rows: int, block_cols: int, sparsity: float,
                 importance: str = "l2") -> PruneResult:
    """Block sparsity: the round(sparsity·blocks) block_rows × block_cols blocks of [rows, K]
    with the least "l1" / "l2" norm become zero."""
    w, mask, r = _prune_target(weights)
    _check(_lib.hone_prune_blocks(w._handle, block_rows, block_cols, sparsity,
                                  _option(_IMPORTANCES, importance, "prune_blocks: importance"),
                                  mask._handle, C.byref(r)))
    return _result(w, mask, r)


class _ChannelPruneParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("sparsity", C.c_double), ("importance", C.c_int),
                ("activation_norms", _P(C.c_float)), ("activation_norms_count", C.c_size_t),
                ("consumer_group", C.c_int64)]


_fn("hone_channel_prune_params_init", [_P(_ChannelPruneParams)])
_fn("hone_prune_channels", [_P(_ChannelPruneParams), _VP, _VP, _VP, _P(_VP), _P(_VP), _P(_VP),
                            _P(_VP)])

_CHANNEL_IMPORTANCES = dict(_IMPORTANCES, activation_weighted=2)


@dataclass
class ChannelPruneResult:
    """What prune_channels kept: the smaller weights [kept, ...], bias [kept] (None when none
    was given), the consumer without the removed channels' input columns (None when none was
    given) and the kept channel indices, ascending."""
    weights: Tensor
    bias: Optional[Tensor]
    consumer: Optional[Tensor]
    kept: list


def prune_channels(weights, sparsity: float = 0.5, importance: str = "l2", bias=None,
                   consumer=None, activation_norms=None,
                   consumer_group: int = 1) -> ChannelPruneResult:
    """Structured pruning (hone_prune_channels): removes the round(sparsity·rows) output
    channels (rows of a linear weight [out, in], filters of a conv [out, in, kh, kw]) of least
    importance and returns new, smaller tensors; kept channels stay bit-identical and in order,
    ties remove the higher channel. The inputs are not changed.

    sparsity: the fraction of channels removed, in [0, 1) (default 0.5); importance "l1" (sum
    |w|), "l2" (the norm of the row; default) or "activation_weighted" (sum_k |w_k|·||X_k||_2,
    needs activation_norms: K values, or one per input channel of a conv); bias: F32 [out] or
    None; consumer: the next layer's weights [out2, out·consumer_group, ...] (its input axis 1)
    or None; consumer_group: the consumer's input columns per channel (default 1; H·W when a
    conv is flattened into a linear layer)."""
    p = _ChannelPruneParams()
    _check(_lib.hone_channel_prune_params_init(C.byref(p)))
    p.sparsity = sparsity
    p.importance = _option(_CHANNEL_IMPORTANCES, importance, "prune_channels: importance")
    if activation_norms is not None:
        norms = _f32(activation_norms)
        count = norms.nbytes // 4
        values = (C.c_float * max(count, 1)).from_buffer_copy(norms.tobytes() or b"\0" * 4)
        p.activation_norms, p.activation_norms_count = values, count  # alive with p
    p.consumer_group = consumer_group
    w, b, c = _f32(weights), _tensor_or_none(bias), _tensor_or_none(consumer)
    out_w, out_b, out_c, out_k = C.c_void_p(), C.c_void_p(), C.c_void_p(), C.c_void_p()
    _check(_lib.hone_prune_channels(C.byref(p), w._handle, _ptr(b), _ptr(c), C.byref(out_w),
                                    C.byref(out_b), C.byref(out_c), C.byref(out_k)))
    kept = Tensor._adopt(out_k)
    return ChannelPruneResult(Tensor._adopt(out_w),
                              Tensor._adopt(out_b) if out_b.value else None,
                              Tensor._adopt(out_c) if out_c.value else None, kept.tolist())


class LayerStats:
    """Streaming statistics of a layer's inputs X [tokens, K]: the Hessian H = sum XᵀX
    (SparseGPT, GPTQ; only with with_hessian) and the column norms ||X_k||_2 (Wanda)."""

    def __init__(self, k: int, with_hessian: bool = True):
        self.k = k
        self._handle = C.c_void_p()
        _check(_lib.hone_layer_stats_create(k, int(with_hessian), C.byref(self._handle)))

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_layer_stats_destroy(self._handle)
            self._handle = None

    close = __del__

    def add(self, x) -> None:
        t = _f32(x)
        _check(_lib.hone_layer_stats_add(self._handle, t._handle))

    @property
    def tokens(self) -> int:
        out = C.c_int64()
        _check(_lib.hone_layer_stats_tokens(self._handle, C.byref(out)))
        return out.value

    def hessian(self) -> Tensor:
        out = Tensor(DType.F32, [self.k, self.k])
        _check(_lib.hone_layer_stats_hessian(self._handle, out._handle))
        return out

    def column_norms(self) -> Tensor:
        out = Tensor(DType.F32, [self.k])
        _check(_lib.hone_layer_stats_column_norms(self._handle, out._handle))
        return out


def prune_wanda(weights, activation_norms, sparsity: float = 0.5, n: int = 0,
                m: int = 0) -> PruneResult:
    """Wanda: scores |W_rk|·||X_k||_2 (activation_norms [K], e.g. LayerStats.column_norms()),
    each row loses round(sparsity·K) — or N:M groups when n > 0."""
    w, mask, r = _prune_target(weights)
    norms = _f32(activation_norms)
    _check(_lib.hone_prune_wanda(w._handle, norms._handle, sparsity, n, m, mask._handle,
                                 C.byref(r)))
    return _result(w, mask, r)


def prune_sparsegpt(weights, hessian, sparsity: float = 0.5, n: int = 0, m: int = 0,
                    block_size: Optional[int] = None, damp_fraction: Optional[float] = None,
                    quant_bits: int = 0) -> PruneResult:
    """SparseGPT: prunes weights [rows, K] with OBS updates of the kept weights; hessian [K, K]
    = sum XᵀX (LayerStats.hessian()). N:M when n > 0; quant_bits 2…8 also rounds the kept
    weights to a symmetric per-row grid (its steps in .row_scales)."""
    w, mask, r = _prune_target(weights)
    h = _f32(hessian)
    p = _SparseGptParams()
    _check(_lib.hone_sparsegpt_params_init(C.byref(p)))
    p.sparsity, p.n, p.m, p.quant_bits = sparsity, n, m, quant_bits
    if block_size is not None:
        p.block_size = block_size
    if damp_fraction is not None:
        p.damp_fraction = damp_fraction
    rows = w.shape[0] if w.shape else 1
    scales = (C.c_float * max(rows, 1))() if quant_bits else None
    _check(_lib.hone_prune_sparsegpt(C.byref(p), w._handle, h._handle, mask._handle, C.byref(r),
                                     scales))
    return _result(w, mask, r, list(scales[:rows]) if quant_bits else None)


def mask_of(weights) -> Tensor:
    """U8 mask of the weights' shape: 1 where w != 0."""
    w = _f32(weights)
    mask = Tensor(DType.U8, w.shape)
    _check(_lib.hone_mask_of(w._handle, mask._handle))
    return mask


def sparsity_of(weights) -> float:
    """Fraction of exact zeros (+0 or -0)."""
    out = C.c_double()
    w = _f32(weights)
    _check(_lib.hone_sparsity_of(w._handle, C.byref(out)))
    return out.value


# ---- sparse storage ----------------------------------------------------------------------------

_fn("hone_sparse_encode", [_VP, C.c_int, C.c_int, C.c_int, _P(_VP)])
_fn("hone_sparse_destroy", [_VP], None)
_fn("hone_sparse_bytes", [_VP, _P(C.c_size_t), _P(C.c_size_t)])
_fn("hone_sparse_to_dense", [_VP, _VP])
_fn("hone_sparse_get_buffer", [_VP, C.c_int, _P(C.c_void_p), _P(C.c_size_t)])


class SparseTensor:
    """Compressed storage of a sparse F32 tensor (hone_sparse; layouts in docs/pruner.md,
    "Sparse storage"), from sparse_encode(). The tensor is read as [rows, K] (rows = dims[0]);
    exact zeros are not stored. Formats: "bitmask" (1 bit per element, LSB first, then the
    non-zero values), "n_m" (N values per group of M along K and their ⌈log2 M⌉-bit in-group
    positions) and "csr" (row_ptr, column indices, values)."""

    formats = {"bitmask": 0, "n_m": 1, "csr": 2}
    _buffers = {"values": 0, "index": 1, "row_ptr": 2, "col_indices": 3}

    def __init__(self, _handle: C.c_void_p, shape: tuple, format: str, n: int, m: int):
        self._handle, self.shape, self.format = _handle, shape, format
        self.n, self.m = (n, m) if format == "n_m" else (0, 0)

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_sparse_destroy(self._handle)
            self._handle = None

    close = __del__

    def __enter__(self) -> "SparseTensor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _sizes(self) -> tuple:
        stored, dense = C.c_size_t(), C.c_size_t()
        _check(_lib.hone_sparse_bytes(self._handle, C.byref(stored), C.byref(dense)))
        return stored.value, dense.value

    @property
    def bytes(self) -> int:
        """Bytes of the stored buffers (values + indices), headers excluded."""
        return self._sizes()[0]

    @property
    def dense_bytes(self) -> int:
        """Bytes of the dense F32 tensor."""
        return self._sizes()[1]

    def to_dense(self) -> Tensor:
        """The dense F32 tensor of the source's shape: stored values bit-identical, every other
        entry +0.0."""
        out = Tensor(DType.F32, self.shape)
        _check(_lib.hone_sparse_to_dense(self._handle, out._handle))
        return out

    def buffer(self, which: str) -> bytes:
        """A stored buffer, copied: "values" (F32), "index" (bitmask: the bits; n_m: the packed
        positions; csr: empty), "row_ptr" and "col_indices" (csr: I32; empty otherwise)."""
        data, size = C.c_void_p(), C.c_size_t()
        _check(_lib.hone_sparse_get_buffer(
            self._handle, _option(self._buffers, which, "SparseTensor.buffer"), C.byref(data),
            C.byref(size)))
        return C.string_at(data.value, size.value) if size.value else b""

    def _array(self, which: str, dtype: int) -> Tensor:
        raw = self.buffer(which)
        if not raw:
            return Tensor(dtype, [0])
        return Tensor.from_buffer(raw, [len(raw) // 4], dtype)

    def values(self) -> Tensor:
        """The stored values, F32 [stored] (n_m: explicit zeros included)."""
        return self._array("values", DType.F32)

    def index(self) -> bytes:
        """The bitmask's bits or the n_m packed positions (b"" for csr)."""
        return self.buffer("index")

    def row_ptr(self) -> Tensor:
        """csr: I32 [rows + 1]."""
        return self._array("row_ptr", DType.I32)

    def col_indices(self) -> Tensor:
        """csr: I32 [nnz]."""
        return self._array("col_indices", DType.I32)


def sparse_encode(dense, format: str = "bitmask", n: int = 2, m: int = 4) -> SparseTensor:
    """Encodes an F32 tensor (rank >= 1) as a SparseTensor in `format` "bitmask" (default),
    "n_m" or "csr". n, m (default 2:4) are used by "n_m" only: 1 <= n < m <= 32, m dividing K,
    and at most n non-zeros in every group of m (else HoneError naming row and group; prune
    with prune_n_m first)."""
    d = _f32(dense)
    handle = C.c_void_p()
    _check(_lib.hone_sparse_encode(d._handle,
                                   _option(SparseTensor.formats, format, "sparse_encode: format"),
                                   n, m, C.byref(handle)))
    return SparseTensor(handle, d.shape, format, n, m)


# ---- clustering --------------------------------------------------------------------------------

class _ClusterParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("clusters", C.c_int), ("method", C.c_int),
                ("granularity", C.c_int), ("axis", C.c_int), ("group_size", C.c_int64),
                ("preserve_sparsity", C.c_int), ("codebook_dtype", C.c_int), ("init", C.c_int),
                ("max_iterations", C.c_int), ("tolerance", C.c_double), ("seed", C.c_uint64),
                ("auto_max_cells", C.c_int64)]


class _ClusteredInfo(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("bits", C.c_int), ("axis", C.c_int),
                ("rows", C.c_int64), ("cols", C.c_int64), ("rows_per_group", C.c_int64),
                ("groups", C.c_int64), ("entries", C.c_int64), ("codebook_dtype", C.c_int),
                ("bytes", C.c_size_t), ("sse", C.c_double), ("preserve_sparsity", C.c_int)]


_fn("hone_cluster_params_init", [_P(_ClusterParams)])
_fn("hone_kmeans1d", [_P(_ClusterParams), _VP, _VP, _VP, _P(C.c_int), _P(C.c_double)])
_fn("hone_cluster", [_P(_ClusterParams), _VP, _VP, _P(_VP)])
_fn("hone_clustered_destroy", [_VP], None)
_fn("hone_clustered_get_info", [_VP, _P(_ClusteredInfo)])
_fn("hone_clustered_clusters_used", [_VP, _P(C.c_int32), C.c_size_t])
_fn("hone_clustered_export", [_VP, _VP, _VP])
_fn("hone_clustered_indices", [_VP, _VP])
_fn("hone_clustered_dequantize", [_VP, _VP])
_fn("hone_clustered_reassign", [_VP, _VP])

_KMEANS_METHODS = {"auto": 0, "optimal": 1, "lloyd": 2}
_KMEANS_INITS = {"kmeans++": 0, "linear": 1, "density": 2, "random": 3}
_CLUSTER_GRANULARITIES = {"per_tensor": 0, "per_channel": 1, "per_group": 2}


def _cluster_params(clusters, method, granularity=None, axis=0, group_size=1,
                    preserve_sparsity=False, codebook_dtype="f32", init=None,
                    max_iterations=None, tolerance=None, seed=None, auto_max_cells=None):
    p = _ClusterParams()
    _check(_lib.hone_cluster_params_init(C.byref(p)))
    p.clusters = clusters
    p.method = _option(_KMEANS_METHODS, method, "cluster: method")
    if granularity is not None:
        p.granularity = _option(_CLUSTER_GRANULARITIES, granularity, "cluster: granularity")
    p.axis, p.group_size, p.preserve_sparsity = axis, group_size, int(preserve_sparsity)
    p.codebook_dtype = _option(_SCALE_DTYPES, codebook_dtype, "cluster: codebook_dtype")
    if init is not None:
        p.init = _option(_KMEANS_INITS, init, "cluster: init")
    for field, value in (("max_iterations", max_iterations), ("tolerance", tolerance),
                         ("seed", seed), ("auto_max_cells", auto_max_cells)):
        if value is not None:
            setattr(p, field, value)
    return p


class Clustered:
    """A clustered (palettized) tensor (hone_clustered; docs/clusterer.md): packed indices and
    one codebook per tensor, channel or group of channels."""

    def __init__(self, _handle: C.c_void_p, shape: tuple):
        self._handle, self.shape = _handle, shape

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_clustered_destroy(self._handle)
            self._handle = None

    close = __del__

    @property
    def info(self) -> dict:
        """{"bits", "axis", "rows", "cols", "rows_per_group", "groups", "entries",
        "codebook_dtype", "bytes", "sse", "preserve_sparsity"} ([rows, cols] is the layout)."""
        i = _ClusteredInfo()
        i.struct_size = C.sizeof(i)
        _check(_lib.hone_clustered_get_info(self._handle, C.byref(i)))
        return {"bits": i.bits, "axis": i.axis, "rows": i.rows, "cols": i.cols,
                "rows_per_group": i.rows_per_group, "groups": i.groups, "entries": i.entries,
                "codebook_dtype": "f16" if i.codebook_dtype == DType.F16 else "f32",
                "bytes": i.bytes, "sse": i.sse, "preserve_sparsity": bool(i.preserve_sparsity)}

    @property
    def bytes(self) -> int:
        """Stored size: packed indices + codebooks."""
        return self.info["bytes"]

    def clusters_used(self) -> list:
        """The real centroids of each codebook."""
        groups = self.info["groups"]
        used = (C.c_int32 * max(groups, 1))()
        _check(_lib.hone_clustered_clusters_used(self._handle, used, groups))
        return list(used[:groups])

    def indices(self) -> Tensor:
        """One index per weight: U8 [rows, cols] of the layout."""
        i = self.info
        out = Tensor(DType.U8, [i["rows"], i["cols"]])
        _check(_lib.hone_clustered_indices(self._handle, out._handle))
        return out

    def codebooks(self) -> Tensor:
        """F32 (or F16) [groups, entries]; entries past clusters_used() are 0."""
        i = self.info
        out = Tensor(DType.F16 if i["codebook_dtype"] == "f16" else DType.F32,
                     [i["groups"], i["entries"]])
        _check(_lib.hone_clustered_export(self._handle, None, out._handle))
        return out

    def packed(self) -> Tensor:
        """The packed indices, U8 [rows, ceil(cols·bits/8)] (docs/formats.md)."""
        i = self.info
        out = Tensor(DType.U8, [i["rows"], (i["cols"] * i["bits"] + 7) // 8])
        _check(_lib.hone_clustered_export(self._handle, out._handle, None))
        return out

    def dequantize(self) -> Tensor:
        """The clustered weights, F32 of the original shape."""
        out = Tensor(DType.F32, self.shape)
        _check(_lib.hone_clustered_dequantize(self._handle, out._handle))
        return out

    def reassign(self, weights) -> None:
        """Maps `weights` (the original shape) to their nearest centroids."""
        w = _f32(weights)
        _check(_lib.hone_clustered_reassign(self._handle, w._handle))


def cluster(weights, clusters: int = 16, method: str = "auto", granularity: str = "per_tensor",
            axis: int = 0, group_size: int = 1, preserve_sparsity: bool = False,
            codebook_dtype: str = "f32", importance=None, init: Optional[str] = None,
            max_iterations: Optional[int] = None, tolerance: Optional[float] = None,
            seed: Optional[int] = None, auto_max_cells: Optional[int] = None) -> Clustered:
    """k-means clustering of F32 weights (k = clusters, 2…256). method "auto", "optimal" (the
    global optimum of the 1-D objective) or "lloyd" (init "kmeans++", "linear", "density",
    "random"); granularity "per_tensor", "per_channel" or "per_group" (group_size channels
    along axis); `importance` weights the objective per element."""
    p = _cluster_params(clusters, method, granularity, axis, group_size, preserve_sparsity,
                        codebook_dtype, init, max_iterations, tolerance, seed, auto_max_cells)
    w, imp = _f32(weights), _tensor_or_none(importance)
    handle = C.c_void_p()
    _check(_lib.hone_cluster(C.byref(p), w._handle, _ptr(imp), C.byref(handle)))
    return Clustered(handle, w.shape)


def kmeans1d(values, clusters: int = 16, method: str = "auto", importance=None,
             init: Optional[str] = None, max_iterations: Optional[int] = None,
             tolerance: Optional[float] = None, seed: Optional[int] = None) -> tuple:
    """1-D weighted k-means: (centroids ascending, as a list of at most `clusters` values — one
    per distinct value when there are fewer — and the SSE)."""
    p = _cluster_params(clusters, method, init=init, max_iterations=max_iterations,
                        tolerance=tolerance, seed=seed)
    v, imp = _f32(values), _tensor_or_none(importance)
    centroids = Tensor(DType.F32, [max(clusters, 1)])
    used, sse = C.c_int(), C.c_double()
    _check(_lib.hone_kmeans1d(C.byref(p), v._handle, _ptr(imp), centroids._handle,
                              C.byref(used), C.byref(sse)))
    return centroids.tolist()[: used.value], sse.value


# ---- policies and validation -------------------------------------------------------------------

_fn("hone_policy_create_for_tier", [C.c_int, _P(_VP)])
_fn("hone_policy_create_from_json", [C.c_char_p, C.c_char_p, _P(_VP)])
_fn("hone_policy_to_json", [_VP, C.c_char_p, C.c_size_t, _P(C.c_size_t)])
_fn("hone_policy_destroy", [_VP], None)


class Policy:
    """Bounds per risk tier (docs/policy.md): Policy.for_tier("medium") or
    Policy.from_json('{"tier": "high", "max_accuracy_drop": 0.003}')."""

    tiers = {"low": 0, "medium": 1, "high": 2, "critical": 3}

    def __init__(self, _handle: C.c_void_p):
        self._handle = _handle

    @classmethod
    def for_tier(cls, tier: str) -> "Policy":
        handle = C.c_void_p()
        _check(_lib.hone_policy_create_for_tier(_option(cls.tiers, tier, "Policy: tier"),
                                                C.byref(handle)))
        return cls(handle)

    @classmethod
    def from_json(cls, text: str, source: Optional[str] = None) -> "Policy":
        """Parses policy JSON; errors (HoneError) name `source` and the field."""
        handle = C.c_void_p()
        _check(_lib.hone_policy_create_from_json(text.encode(), _str(source), C.byref(handle)))
        return cls(handle)

    def to_json(self) -> str:
        return _read_string(lambda b, c, n: _lib.hone_policy_to_json(self._handle, b, c, n))

    def to_dict(self) -> dict:
        return json.loads(self.to_json())

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_policy_destroy(self._handle)
            self._handle = None

    close = __del__


_RunFn = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_void_p, _P(C.c_void_p))


class _RunnerParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("name", C.c_char_p), ("run", _RunFn),
                ("user", C.c_void_p), ("model_bytes", C.c_uint64),
                ("ops_per_sample", C.c_double), ("int8", C.c_int)]


_fn("hone_runner_params_init", [_P(_RunnerParams)])
_fn("hone_runner_create", [_P(_RunnerParams), _P(_VP)])
_fn("hone_runner_destroy", [_VP], None)
_fn("hone_executor_runner_params", [_VP, _P(_RunnerParams)])


class Runner:
    """What the validator runs (hone_runner): an Executor (one input, one output; [N, features]
    inputs are reshaped to the model's input shape), or a Python function taking the input
    batch (a Tensor f32 [batch, ...]) and returning logits [batch, classes] (a Tensor, NumPy
    array or buffer). An exception it raises stops the validation and is raised again."""

    def __init__(self, model: "Executor | Callable", name: Optional[str] = None,
                 model_bytes: Optional[int] = None, ops_per_sample: Optional[float] = None,
                 int8: Optional[bool] = None):
        p = _RunnerParams()
        _check(_lib.hone_runner_params_init(C.byref(p)))
        self.raised: list = []
        if isinstance(model, Executor):
            _check(_lib.hone_executor_runner_params(model._handle, C.byref(p)))
            self._keep = model  # the executor must outlive the runner
        elif callable(model):
            self._keep = _RunFn(self._trampoline(model))
            p.run = self._keep
        else:
            raise TypeError("Runner: model must be an Executor or a callable")
        self._name = _str(name) if name is not None else None
        if name is not None:
            p.name = self._name  # copied by the library
        if model_bytes is not None:
            p.model_bytes = model_bytes
        if ops_per_sample is not None:
            p.ops_per_sample = ops_per_sample
        if int8 is not None:
            p.int8 = int(int8)
        self._handle = C.c_void_p()
        _check(_lib.hone_runner_create(C.byref(p), C.byref(self._handle)))

    def _trampoline(self, fn: Callable):
        raised = self.raised  # not self: no reference cycle through the callback

        def run(_user, inputs, outputs):
            try:
                borrowed = Tensor._adopt(C.c_void_p(inputs))
                batch = _copy(borrowed)
                borrowed._handle = None  # hone owns it
                result = fn(batch)
                out = _copy(_f32(result))  # a tensor of our own, handed over to hone
                outputs[0] = out._handle.value
                out._handle = None
                return Status.OK
            except BaseException as e:  # noqa: BLE001 — raised again by validate()
                raised.append(e)
                return Status.INVALID_ARGUMENT
        return run

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_runner_destroy(self._handle)
            self._handle = None

    close = __del__


class _ValidateParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("batch_size", C.c_int64),
                ("confidence", C.c_double), ("per_class_slices", C.c_int),
                ("class_weights", _P(C.c_double)), ("class_weight_count", C.c_size_t),
                ("latency_batch_sizes", _P(C.c_int64)), ("latency_batch_count", C.c_size_t),
                ("warmup", C.c_int), ("repeats", C.c_int),
                ("slice_names", _P(C.c_char_p)), ("slice_samples", _P(_P(C.c_uint32))),
                ("slice_sizes", _P(C.c_size_t)), ("slice_count", C.c_size_t)]


class _ValidationSummary(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("samples", C.c_uint64), ("baseline_accuracy", C.c_double),
                ("candidate_accuracy", C.c_double), ("delta_low", C.c_double),
                ("delta_high", C.c_double), ("mcnemar_p", C.c_double),
                ("agreement", C.c_double), ("regressions", C.c_uint64),
                ("improvements", C.c_uint64)]


_fn("hone_validate_params_init", [_P(_ValidateParams)])
_fn("hone_validate", [_VP, _VP, _VP, _P(C.c_int64), C.c_size_t, _P(_ValidateParams), _P(_VP)])
_fn("hone_validation_summary_get", [_VP, _P(_ValidationSummary)])
_fn("hone_validation_json", [_VP, C.c_char_p, C.c_size_t, _P(C.c_size_t)])
_fn("hone_validation_decide", [_VP, _VP, _P(C.c_int), _P(C.c_uint32), C.c_char_p, C.c_size_t,
                               _P(C.c_size_t)])
_fn("hone_validation_destroy", [_VP], None)


class Validation:
    """A baseline-vs-candidate report (hone_validation): summary(), json() / report(),
    decide(policy)."""

    verdicts = ("approved", "needs_signoff", "rejected")

    def __init__(self, _handle: C.c_void_p):
        self._handle = _handle

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_validation_destroy(self._handle)
            self._handle = None

    close = __del__

    def summary(self) -> dict:
        """{"samples", "baseline_accuracy", "candidate_accuracy", "delta_low", "delta_high"
        (interval of candidate − baseline accuracy), "mcnemar_p", "agreement", "regressions",
        "improvements"}."""
        s = _ValidationSummary(struct_size=C.sizeof(_ValidationSummary))
        _check(_lib.hone_validation_summary_get(self._handle, C.byref(s)))
        return {name: getattr(s, name) for name, _ in _ValidationSummary._fields_[1:]}

    def json(self) -> str:
        """The whole report as JSON text."""
        return _read_string(lambda b, c, n: _lib.hone_validation_json(self._handle, b, c, n))

    def report(self) -> dict:
        return json.loads(self.json())

    def decide(self, policy: Policy) -> dict:
        """{"verdict" ("approved", "needs_signoff", "rejected"), "approvals_missing",
        "decision" (the decision with its reasons, as the ledger stores it)}."""
        verdict, missing = C.c_int(), C.c_uint32()
        # Both calls (size, then text) set the verdict and the count.
        text = _read_string(lambda b, c, n: _lib.hone_validation_decide(
            self._handle, policy._handle, C.byref(verdict), C.byref(missing), b, c, n))
        return {"verdict": self.verdicts[verdict.value], "approvals_missing": missing.value,
                "decision": json.loads(text)}


def validate(baseline, candidate, inputs, labels: Optional[Sequence[int]] = None,
             batch_size: Optional[int] = None, confidence: Optional[float] = None,
             per_class_slices: bool = True, class_weights: Optional[Sequence[float]] = None,
             latency_batches: Optional[Sequence[int]] = None, warmup: Optional[int] = None,
             repeats: Optional[int] = None, slices: Optional[dict] = None) -> Validation:
    """Runs both models on the same `inputs` (f32 [N, ...]) and compares them (hone_validate).
    baseline / candidate: Runner, Executor or a Python function (see Runner). `labels`: N class
    indices, or None (the baseline's answers serve). latency_batches: batch sizes timed
    (default (1, 64); () for none). slices: {name: [sample indices]}."""
    runners = [r if isinstance(r, Runner) else Runner(r) for r in (baseline, candidate)]
    x = _f32(inputs)
    p = _ValidateParams()
    _check(_lib.hone_validate_params_init(C.byref(p)))
    if batch_size is not None:
        p.batch_size = batch_size
    if confidence is not None:
        p.confidence = confidence
    p.per_class_slices = int(per_class_slices)
    keep = []
    if class_weights is not None:
        weights = (C.c_double * max(len(class_weights), 1))(*class_weights)
        p.class_weights, p.class_weight_count = weights, len(class_weights)
        keep.append(weights)
    if latency_batches is not None:
        batches = (C.c_int64 * max(len(latency_batches), 1))(*latency_batches)
        p.latency_batch_sizes, p.latency_batch_count = batches, len(latency_batches)
        keep.append(batches)
    if warmup is not None:
        p.warmup = warmup
    if repeats is not None:
        p.repeats = repeats
    if slices:
        names = _strings(list(slices))
        samples = [(C.c_uint32 * max(len(v), 1))(*v) for v in slices.values()]
        pointers = (_P(C.c_uint32) * len(samples))(*samples)
        sizes = (C.c_size_t * len(samples))(*[len(v) for v in slices.values()])
        p.slice_names = C.cast(names, _P(C.c_char_p))
        p.slice_samples, p.slice_sizes, p.slice_count = pointers, sizes, len(samples)
        keep += [names, samples, pointers, sizes]
    label_list = [int(v) for v in labels] if labels is not None else []
    label_array = (C.c_int64 * max(len(label_list), 1))(*label_list)
    out = C.c_void_p()
    status = _lib.hone_validate(runners[0]._handle, runners[1]._handle, x._handle,
                                label_array if label_list else None, len(label_list),
                                C.byref(p), C.byref(out))
    for r in runners:
        if r.raised:
            error = r.raised[0]
            r.raised.clear()
            raise error
    _check(status)
    return Validation(out)
