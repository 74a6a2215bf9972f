"""``TorchStage``: the base of a stage around one network whose weights are a safetensors
file (re-exported as ``oldphoto_cli.TorchStage``).

It is the one part of the plugin contract that loads weights, so it lives here, beside
the lookup it uses (:mod:`oldphoto_cli.weights`), and :mod:`oldphoto_cli.contract` stays
a leaf. torch is imported when a stage is built, not when this module is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from oldphoto_cli.contract import Stage
from oldphoto_cli.weights import find_weights, load_model

if TYPE_CHECKING:
    import torch

__all__ = ["PRECISION_DTYPES", "TorchStage"]

# ``--precision`` names -> torch dtype names.
PRECISION_DTYPES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16"}


class TorchStage(Stage):
    """A stage around one network with safetensors weights: a plugin writes ``__call__``.

    Declare ``weights_name`` (file stem), ``arch`` (the architecture name stored in the
    file), ``build`` (``build(config) -> nn.Module``) and ``config_cls`` (its config
    dataclass, filled from the file's metadata); ``weights_package`` names a Python
    package whose folder holds the file (a plugin shipping its own weights; default: the
    shipped ``oldphoto_weights``). ``--weights-dir`` and ``$OLDPHOTO_WEIGHTS`` are searched
    first. The base loads the file, puts the model on ``self.device`` in eval mode, in
    ``precision`` (``--precision``; without it half precision when ``fp16``, CUDA only;
    ``self.dtype`` says which), channels-last on the device types in ``channels_last``,
    compiled when ``compile``. ``prepare_model(model)`` may pick a submodule or fuse layers first.
    In ``__call__`` use ``self.to_device(x)`` for inputs and ``self.model``.
    """

    weights_name: ClassVar[str]
    weights_package: ClassVar[str | None] = None
    arch: ClassVar[str]
    build: ClassVar[Callable[[Any], Any]]
    config_cls: ClassVar[type]
    # The pipeline passes ``precision=`` (fp32, bf16, fp16; from ``--precision``) only to
    # stages that declare this; others get ``fp16`` alone. A subclass that defines its own
    # ``__init__`` without a ``precision`` argument sets it to False.
    supports_precision: ClassVar[bool] = True
    # Device types ("cpu", "cuda", ...) on which model and inputs use channels-last memory
    # format (chosen per stage by measurement, see benchmarks/RESULTS.md).
    channels_last: ClassVar[tuple[str, ...]] = ()

    def __init__(self, device: Any = "cpu", weights_dir: str | None = None,
                 fp16: bool = False, compile: bool = False,
                 precision: str | None = None) -> None:  # fmt: skip
        """``precision`` is used as given (choosing one the device computes natively is
        the caller's job: :func:`oldphoto_cli.device.resolve_precision`); None: float16
        when ``fp16`` on CUDA, else float32."""
        import torch

        cls = type(self)
        self.device = torch.device(device)
        if precision is None:
            self.dtype = self.dtype_for(self.device, fp16)
            self.precision = {torch.float16: "fp16"}.get(self.dtype, "fp32")
        else:
            if precision not in PRECISION_DTYPES:
                raise ValueError(f"precision {precision!r}: expected one of "
                                 f"{', '.join(PRECISION_DTYPES)}")  # fmt: skip
            self.precision = precision
            self.dtype = getattr(torch, PRECISION_DTYPES[precision])
        self.memory_format = (
            torch.channels_last if self.device.type in cls.channels_last
            else torch.contiguous_format
        )  # fmt: skip
        path = find_weights(cls.weights_name, weights_dir, package=cls.weights_package)
        model, self.meta = load_model(path, cls.build, cls.config_cls, cls.arch, self.device)
        self.model = self.prepare_model(model).to(dtype=self.dtype,
                                                  memory_format=self.memory_format)  # fmt: skip
        self.compiled = compile
        if compile:
            self.model = torch.compile(self.model, dynamic=True)  # tiles vary in size

    @staticmethod
    def dtype_for(device: torch.device, fp16: bool) -> torch.dtype:
        """float16 when asked for on CUDA, else float32 (never half on the CPU)."""
        import torch

        return torch.float16 if fp16 and device.type == "cuda" else torch.float32

    def prepare_model(self, model: torch.nn.Module) -> torch.nn.Module:
        return model

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        import torch

        x = x.to(self.device, self.dtype)
        if x.dim() == 4 and self.memory_format is torch.channels_last:
            x = x.contiguous(memory_format=self.memory_format)
        return x
