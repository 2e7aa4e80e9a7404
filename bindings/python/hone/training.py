"""Fine-tuning (and training from scratch) of an ONNX model for Python, through the C ABI
(include/hone/hone.h, "fine-tuning"; guide: docs/retraining.md): hone's own backward passes,
optionally optimization-aware (magnitude pruning with masks kept applied, k-means clustering with
weights tied to centroids, int-N fake quantization with RTN or learned scales).

Conventions are those of the package (hone/__init__.py): params structs are filled by
hone_finetune_params_init before fields are set; every failing call raises HoneError with the C
status and message; the run is a handle owned by a FineTune object (a context manager). An
unknown name for an option (optimizer="adam") raises ValueError.
"""

from __future__ import annotations

import ctypes as C
import os
from typing import Callable, Optional, Sequence

from . import HoneError, Model, Status, _check, _fn, _lib, _str
from .algorithms import _f32, _option

__all__ = ["FineTune", "finetune"]


class _TrainProgress(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("epoch", C.c_int), ("step", C.c_int64),
                ("total_steps", C.c_int64), ("loss", C.c_double), ("learning_rate", C.c_float)]


_ProgressFn = C.CFUNCTYPE(C.c_int, C.c_void_p, C.POINTER(_TrainProgress))


class _FinetuneParams(C.Structure):
    _fields_ = [("struct_size", C.c_size_t), ("model_path", C.c_char_p),
                ("teacher_path", C.c_char_p), ("epochs", C.c_int), ("batch_size", C.c_int64),
                ("seed", C.c_uint64), ("optimizer", C.c_int), ("learning_rate", C.c_float),
                ("momentum", C.c_float), ("weight_decay", C.c_float), ("schedule", C.c_int),
                ("step_size", C.c_int64), ("gamma", C.c_float),
                ("min_learning_rate", C.c_float), ("loss", C.c_int),
                ("temperature", C.c_float), ("distill_alpha", C.c_float),
                ("prune_sparsity", C.c_double), ("cluster_count", C.c_int),
                ("weight_bits", C.c_int), ("activation_bits", C.c_int),
                ("progress", _ProgressFn), ("user", C.c_void_p), ("learned_scales", C.c_int),
                ("model", C.c_void_p), ("teacher", C.c_void_p)]


_VP = C.c_void_p
_I64P = C.POINTER(C.c_int64)
_fn("hone_finetune_params_init", [C.POINTER(_FinetuneParams)])
_fn("hone_finetune_start", [C.POINTER(_FinetuneParams), _VP, _I64P, C.c_size_t,
                            C.POINTER(_VP)])
_fn("hone_finetune_step", [_VP, C.POINTER(C.c_int)])
_fn("hone_finetune_evaluate", [_VP, _VP, _I64P, C.c_size_t, C.POINTER(C.c_double)])
_fn("hone_finetune_finish", [_VP, C.c_char_p])
_fn("hone_finetune_destroy", [_VP], None)

_OPTIMIZERS = {"sgd": 0, "adamw": 1}
_SCHEDULES = {"constant": 0, "cosine": 1, "step": 2}
_LOSSES = {"cross_entropy": 0, "distillation": 1}
# Numeric options whose default comes from hone_finetune_params_init.
_OPTIONS = ("epochs", "batch_size", "seed", "learning_rate", "momentum", "weight_decay",
            "step_size", "gamma", "min_learning_rate", "temperature", "distill_alpha",
            "prune_sparsity", "cluster_count", "weight_bits", "activation_bits")


def _labels(labels: Optional[Sequence[int]]):
    """(an int64 array or None, its length)."""
    if labels is None:
        return None, 0
    values = [int(v) for v in labels]
    return (C.c_int64 * max(len(values), 1))(*values) if values else None, len(values)


class FineTune:
    """A fine-tuning run (hone_finetune): FineTune(model, inputs, labels, ...) loads the model,
    applies the optimization-aware options and copies the training data; step() runs one
    mini-batch, run() the rest; evaluate() measures top-1 accuracy of the current (masked,
    clustered or fake-quantized) weights; finish(path) writes the trained model as ONNX
    (atomically; the run stays usable). Use it as a context manager, or close() it.

    model: an ONNX path or a hone.Model (copied at the start; later changes to it do not
    matter). inputs: F32 [N, ...], each sample reshaped to the model input by its element
    count. labels: N class indices; None for pure distillation. teacher: the distillation
    teacher, a path or a Model (default None: the model as loaded).

    Options (None keeps the library's default): epochs (1), batch_size (64), seed (0; the data
    order), optimizer "sgd" (default) or "adamw", learning_rate (0.01), momentum (0.9, SGD),
    weight_decay (0), schedule "constant" (default), "cosine" (down to min_learning_rate, 0) or
    "step" (× gamma, 0.1, every step_size steps, 1000), loss "cross_entropy" (default; labels
    required) or "distillation" (temperature 4, distill_alpha 1 = pure distillation; labels
    needed when below 1), prune_sparsity (0 = off; else magnitude masks of that sparsity on every
    weight of rank >= 2, kept applied), cluster_count (0 = off; else 2…256 centroids per weight,
    trained), weight_bits (0 = off; else 2…8-bit per-channel symmetric fake quantization),
    learned_scales (False; True trains the weight_bits scales, LSQ), activation_bits (0 = off;
    else 2…8-bit activation fake quantization).

    progress(info) is called after every step with {"epoch" (0-based), "step" (steps done),
    "total_steps" (planned), "loss" (this step's), "learning_rate"}; returning False stops the
    run (step() then reports no more steps); an exception in it stops the run and is raised
    again from step()."""

    def __init__(self, model, inputs, labels: Optional[Sequence[int]] = None, teacher=None,
                 optimizer: str = "sgd", schedule: str = "constant",
                 loss: str = "cross_entropy", learned_scales: bool = False,
                 progress: Optional[Callable[[dict], Optional[bool]]] = None, **options):
        p = _FinetuneParams()
        _check(_lib.hone_finetune_params_init(C.byref(p)))
        if isinstance(model, Model):
            p.model = model._handle.value  # the caller's Model is alive through the start
        else:
            p.model_path = _str(os.fspath(model))
        if isinstance(teacher, Model):
            p.teacher = teacher._handle.value
        elif teacher is not None:
            p.teacher_path = _str(os.fspath(teacher))
        p.optimizer = _option(_OPTIMIZERS, optimizer, "FineTune: optimizer")
        p.schedule = _option(_SCHEDULES, schedule, "FineTune: schedule")
        p.loss = _option(_LOSSES, loss, "FineTune: loss")
        p.learned_scales = int(learned_scales)
        for key, value in options.items():
            if key not in _OPTIONS:
                raise ValueError(f"FineTune: no option '{key}' (one of {sorted(_OPTIONS)})")
            if value is not None:
                setattr(p, key, value)
        self.raised: list = []
        self._keep = self._trampoline(progress) if progress else _ProgressFn()
        p.progress = self._keep  # hone calls it during step(): alive as long as the run
        x = _f32(inputs)
        label_array, count = _labels(labels)
        self._handle = C.c_void_p()
        _check(_lib.hone_finetune_start(C.byref(p), x._handle, label_array, count,
                                        C.byref(self._handle)))

    def _trampoline(self, fn: Callable):
        raised = self.raised  # not self: no reference cycle through the callback

        def on_progress(_user, info):
            try:
                i = info.contents
                return 0 if fn({"epoch": i.epoch, "step": i.step, "total_steps": i.total_steps,
                                "loss": i.loss, "learning_rate": i.learning_rate}) is False else 1
            except BaseException as e:  # noqa: BLE001 — raised again by step()
                raised.append(e)
                return 0
        return _ProgressFn(on_progress)

    def __del__(self):
        if getattr(self, "_handle", None):
            _lib.hone_finetune_destroy(self._handle)
            self._handle = None

    close = __del__

    def __enter__(self) -> "FineTune":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _live(self) -> C.c_void_p:
        if not getattr(self, "_handle", None):
            raise HoneError(Status.INVALID_ARGUMENT, "FineTune: the run is closed")
        return self._handle

    def step(self) -> bool:
        """Runs one mini-batch: True when a step ran, False when every epoch ran or the
        progress callback stopped the run (no step then)."""
        done = C.c_int()
        status = _lib.hone_finetune_step(self._live(), C.byref(done))
        if self.raised:
            error = self.raised[0]
            self.raised.clear()
            raise error
        _check(status)
        return not done.value

    def run(self) -> int:
        """Steps until the run is done; the number of steps run."""
        steps = 0
        while self.step():
            steps += 1
        return steps

    def evaluate(self, inputs, labels: Sequence[int]) -> float:
        """Top-1 accuracy on `inputs` (F32 [N, ...]) against `labels` (N class indices)."""
        x = _f32(inputs)
        label_array, count = _labels(labels)
        accuracy = C.c_double()
        _check(_lib.hone_finetune_evaluate(self._live(), x._handle, label_array, count,
                                           C.byref(accuracy)))
        return accuracy.value

    def finish(self, path: str) -> None:
        """Writes the trained model (masks, centroids and fake-quantized values applied) to
        `path` as ONNX, atomically. The run stays usable."""
        _check(_lib.hone_finetune_finish(self._live(), _str(os.fspath(path))))


def finetune(model, inputs, labels: Optional[Sequence[int]], output: str, **options) -> int:
    """FineTune(model, inputs, labels, **options), run to the end, the trained model written to
    `output`; the number of steps run. Options as FineTune."""
    with FineTune(model, inputs, labels, **options) as run:
        steps = run.run()
        run.finish(output)
        return steps
