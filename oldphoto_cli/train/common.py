"""What every trainer shares: options, DDP, the indexed data stream, checkpoints, logs.

Checkpoints are safetensors too (no pickle): model and optimizer tensors flattened under
prefixed keys, step/RNG/optimizer hyper-parameters in the JSON metadata. A checkpoint
stores the *global* sample index, so resuming with another world size continues the same
data stream.
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from oldphoto_cli.distributed import RankInfo, rank_from_env


@dataclass
class TrainOptions:
    out_dir: str = "runs/train"
    device: str = "cpu"
    batch_size: int = 8  # global batch (split across DDP ranks)
    crop: int = 128
    steps: int = 1000
    max_minutes: float | None = None  # stop (and checkpoint) after this much wall time
    lr: float = 2e-4
    seed: int = 0
    resume: bool = False
    log_every: int = 25
    val_every: int = 500
    checkpoint_every: int = 200
    threads: int | None = None  # torch intra-op threads per process
    # Processes that synthesize batches ahead of the training step (0: in the training
    # process). On a GPU the damage synthesis (~10 ms a crop on one core) is the bottleneck.
    workers: int = 0
    # bfloat16 autocast for the training step (models channels-last on the CPU): 2.4x the
    # fp32 speed of a mapping step on a CPU with AMX (benchmarks/RESULTS.md, 2026-12-05).
    bf16: bool = False
    # Linear learning-rate warm-up over this many steps when the optimizers start without
    # saved moments (a new run, or one continued from exported weights): Adam's first
    # steps on fresh moments are full-size, which knocks a trained model off its optimum.
    warmup_steps: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class StepBatches(torch.utils.data.Dataset):
    """Batch ``i`` is the batch of training step ``first + i``, exactly as the training
    process would make it: the stream stays indexed, so workers change nothing but speed."""

    def __init__(self, make_batch, first: int, last: int, batch_size: int, ddp: RankInfo):
        self.make_batch, self.first, self.last = make_batch, first, last
        self.batch_size, self.ddp = batch_size, ddp

    def __len__(self) -> int:
        return max(0, self.last - self.first)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.make_batch(*local_slice(self.first + i, self.batch_size, self.ddp))


def _one_thread_worker(_: int) -> None:
    # Workers synthesize one crop at a time: intra-op threads would only oversubscribe.
    import cv2

    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def setup_distributed(device: str) -> RankInfo:
    """Join the torchrun process group when launched by torchrun (WORLD_SIZE > 1); the
    rank, world and local rank are read as ``restore`` reads them (:func:`rank_from_env`)."""
    info = rank_from_env()
    if not info.active:
        return info
    if not dist.is_initialized():
        backend = "nccl" if device.startswith("cuda") else "gloo"
        dist.init_process_group(backend)
    return replace(info, rank=dist.get_rank(), world=dist.get_world_size())


def resolve_train_device(device: str, ddp: RankInfo) -> torch.device:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and ddp.world > 1:
        device = f"cuda:{ddp.local_rank}"
    if device.startswith("cuda"):
        # TF32 convolutions and tuned kernels: several times fp32 speed, well within the
        # precision these losses need.
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    return torch.device(device)


def local_slice(step: int, global_batch: int, ddp: RankInfo) -> tuple[int, int]:
    """(first sample index, count) of this rank's share of global step ``step``."""
    if global_batch % ddp.world:
        raise ValueError(f"batch size {global_batch} not divisible by world size {ddp.world}")
    per_rank = global_batch // ddp.world
    return step * global_batch + ddp.rank * per_rank, per_rank


def wrap_ddp(model: nn.Module, ddp: RankInfo, device: torch.device) -> nn.Module:
    if ddp.world <= 1:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def average_across_ranks(value: float, ddp: RankInfo) -> float:
    if ddp.world <= 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t.item()) / ddp.world


# ---------------------------------------------------------------- checkpoints


def save_checkpoint(
    path: Path, models: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer],
    step: int, extra: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {"step": step, "extra": extra or {}, "optim_groups": {}}
    for name, model in models.items():
        for key, value in unwrap(model).state_dict().items():
            tensors[f"model.{name}.{key}"] = value.detach().cpu().contiguous()
    for name, opt in optimizers.items():
        state = opt.state_dict()
        meta["optim_groups"][name] = state["param_groups"]
        for pid, pstate in state["state"].items():
            for key, value in pstate.items():
                t = value if torch.is_tensor(value) else torch.tensor(value)
                tensors[f"optim.{name}.{pid}.{key}"] = t.detach().cpu().contiguous()
    tensors["rng.torch"] = torch.get_rng_state()
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata={"meta": json.dumps(meta)})
    os.replace(tmp, path)  # an interrupted save never corrupts the last checkpoint


def load_checkpoint(
    path: Path, models: dict[str, nn.Module], optimizers: dict[str, torch.optim.Optimizer]
) -> dict[str, Any]:
    with safe_open(str(path), framework="pt") as handle:
        meta = json.loads(handle.metadata()["meta"])
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}
    fresh = []  # networks the checkpoint lacks: the discriminator of a GAN phase started
    for name, model in models.items():  # on a checkpoint of an L1-only phase
        prefix = f"model.{name}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        if not state:
            fresh.append(name)
            continue
        unwrap(model).load_state_dict(state, strict=True)
    meta["fresh"] = fresh
    for name, opt in optimizers.items():
        if name in fresh:
            continue
        prefix = f"optim.{name}."
        per_param: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith(prefix):
                pid, field_name = key[len(prefix) :].split(".", 1)
                per_param.setdefault(int(pid), {})[field_name] = value
        opt.load_state_dict({"state": per_param, "param_groups": meta["optim_groups"][name]})
    torch.set_rng_state(tensors["rng.torch"])
    return meta


# ---------------------------------------------------------------- the loop


class JsonlLog:
    def __init__(self, path: Path, enabled: bool) -> None:
        self.path, self.enabled = path, enabled

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as handle:
            handle.write(json.dumps(record) + "\n")


def hardware() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}"


class Trainer:
    """A training loop over an indexed data stream; subclasses define models and one step.

    Subclass contract: ``build()`` returns (models, optimizers); ``train_step(step, batch)``
    returns a dict of float losses; ``make_batch(start, count)``; ``validate()`` returns
    metrics; ``export()`` writes the shipped safetensors file(s).
    """

    name = "trainer"
    exported_model = ""  # key in ``models`` of the network that export() writes

    def __init__(self, opts: TrainOptions) -> None:
        self.opts = opts
        self.ddp = setup_distributed(opts.device)
        if opts.threads:
            torch.set_num_threads(opts.threads)
        self.device = resolve_train_device(opts.device, self.ddp)
        torch.manual_seed(opts.seed + self.ddp.rank)
        self.out = Path(opts.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.log = JsonlLog(self.out / "log.jsonl", self.ddp.main)
        self.models, self.optimizers = self.build()
        if self.channels_last:
            for model in self.frozen_models() + list(self.models.values()):
                model.to(memory_format=torch.channels_last)
        self.step = 0
        self.seconds = 0.0  # training wall time summed over resumed runs
        self.moments_from: int | None = 0  # step the optimizers' moments started at
        ckpt = self.out / "checkpoint.safetensors"
        if opts.resume and ckpt.exists():
            meta = load_checkpoint(ckpt, self.models, self.optimizers)
            for optimizer in self.optimizers.values():  # --lr applies to a resumed run too
                for group in optimizer.param_groups:
                    group["lr"] = opts.lr
            self.step = meta["step"]
            self.seconds = meta["extra"].get("seconds", 0.0)
            self.moments_from = meta["extra"].get("moments_from")
            if meta["extra"].get("grown_from"):  # the export says where it grew from
                self.grown_from = meta["extra"]["grown_from"]
            if self.ddp.world > 1:  # each rank keeps its own noise stream
                torch.manual_seed(opts.seed + 1000 * self.step + self.ddp.rank)
        elif opts.resume and self.export_path().exists():
            self.resume_from_export(self.export_path())

    @property
    def channels_last(self) -> bool:
        # oneDNN convolutions on the CPU run fastest on NHWC tensors: bf16 ones, and fp32
        # ones too (a width-16 U-Net step at 256 px: 6 s instead of 12 s on 2 AVX2 cores).
        return self.device.type == "cpu"

    def frozen_models(self) -> list[nn.Module]:
        """Networks the step runs but does not train (e.g. the mapping's VAEs)."""
        return []

    def export_path(self) -> Path:
        """Where :meth:`export` writes (``--export`` or ``<out>/<name>.safetensors``)."""
        return Path(self.opts.extra.get("export") or self.out / f"{self.name}.safetensors")

    def resume_from_export(self, path: Path) -> None:
        """Continue from exported weights when the full checkpoint is gone (a fresh clone
        keeps only the committed exports): the model tensors and the step and minutes
        recorded in the file's metadata come back; optimizer moments start anew."""
        from oldphoto_cli.weights import load_weights

        tensors, meta = load_weights(path)
        missing, unexpected = unwrap(self.models[self.exported_model]).load_state_dict(
            tensors, strict=False
        )
        if missing or unexpected:  # another architecture or config: the wrong file
            raise RuntimeError(f"{path}: does not fit this model: missing {missing[:5]}, "
                               f"unexpected {unexpected[:5]}")  # fmt: skip
        self.carry_on_from(meta)

    def grow_from_export(self, path: str, arch: Any, config_cls: Any) -> None:
        """Start the exported model from a smaller export of the same architecture module
        ``arch`` (its ``ARCH`` and ``grown_state``; ``config_cls`` reads the export's
        config): the grown model computes what the export computes, its step and minutes
        carry on, and ``grown_from`` records where it came from."""
        from oldphoto_cli.weights import load_weights

        tensors, meta = load_weights(path, arch=arch.ARCH)
        model = unwrap(self.models[self.exported_model])
        model.load_state_dict(arch.grown_state(tensors, config_cls(**meta["config"]), model))
        self.carry_on_from(meta)
        self.grown_from = {"file": str(path), "config": meta["config"], "steps": self.step}

    def carry_on_from(self, meta: dict[str, Any]) -> None:
        """Continue the count of an export (its metadata ``meta``): its step and minutes
        carry on, the optimizer moments start here, and the noise stream is that step's."""
        training = meta.get("training") or {}
        self.step = int(training.get("steps", 0))
        self.seconds = 60.0 * float(training.get("train_minutes", 0.0))
        self.moments_from = self.step
        torch.manual_seed(self.opts.seed + 1000 * self.step + self.ddp.rank)

    def warmup_factor(self) -> float:
        """Learning-rate factor of the coming step (1 outside the warm-up)."""
        if not self.opts.warmup_steps or self.moments_from is None:
            return 1.0
        return min(1.0, (self.step - self.moments_from + 1) / self.opts.warmup_steps)

    # -- to override
    def build(self) -> tuple[dict[str, nn.Module], dict[str, torch.optim.Optimizer]]:
        raise NotImplementedError

    def make_batch(self, start: int, count: int) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def train_step(self, step: int, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        raise NotImplementedError

    def validate(self) -> dict[str, float]:
        return {}

    def export(self, metrics: dict[str, float]) -> list[Path]:
        return []

    # -- the loop
    def checkpoint(self) -> None:
        if self.ddp.main:
            save_checkpoint(
                self.out / "checkpoint.safetensors", self.models, self.optimizers, self.step,
                {"seconds": self.seconds, "options": asdict(self.opts),
                 "moments_from": self.moments_from,
                 "grown_from": getattr(self, "grown_from", None)},
            )  # fmt: skip

    def training_summary(self) -> dict[str, Any]:
        return {
            "trainer": self.name,
            "steps": self.step,
            "batch_size": self.opts.batch_size,
            "crop": self.opts.crop,
            "train_minutes": round(self.seconds / 60, 1),
            "hardware": hardware(),
            "world_size": self.ddp.world,
            "options": {k: v for k, v in asdict(self.opts).items() if k != "out_dir"},
        }

    def batches(self, first: int):
        """The batches of steps ``first .. steps-1`` in order, made here or by
        ``opts.workers`` worker processes (the same tensors either way)."""
        stream = StepBatches(self.make_batch, first, self.opts.steps, self.opts.batch_size,
                             self.ddp)  # fmt: skip
        if self.opts.workers <= 0:
            return (stream[i] for i in range(len(stream)))
        return iter(torch.utils.data.DataLoader(
            stream, batch_size=None, shuffle=False, num_workers=self.opts.workers,
            prefetch_factor=4, worker_init_fn=_one_thread_worker,
            pin_memory=self.device.type == "cuda",
        ))  # fmt: skip

    def to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        tensor = tensor.to(self.device, non_blocking=True)
        if self.channels_last and tensor.dim() == 4:
            tensor = tensor.contiguous(memory_format=torch.channels_last)
        return tensor

    def run(self) -> dict[str, float]:
        opts = self.opts
        started = time.time()
        last = time.time()
        for model in self.models.values():
            model.train()
        batches = self.batches(self.step)
        while self.step < opts.steps:
            if opts.max_minutes is not None and (time.time() - started) / 60 >= opts.max_minutes:
                break
            batch = {k: self.to_device(v) for k, v in next(batches).items()}
            if opts.warmup_steps:
                for optimizer in self.optimizers.values():
                    for group in optimizer.param_groups:
                        group["lr"] = opts.lr * self.warmup_factor()
            with torch.autocast(self.device.type, torch.bfloat16, enabled=opts.bf16):
                losses = self.train_step(self.step, batch)
            self.step += 1
            now = time.time()
            self.seconds += now - last
            last = now
            if self.step % opts.log_every == 0:
                losses = {k: average_across_ranks(v, self.ddp) for k, v in losses.items()}
                self.log.write({"step": self.step, "seconds": round(self.seconds, 1), **losses})
            if self.step % opts.checkpoint_every == 0:
                self.checkpoint()
            if opts.val_every and self.step % opts.val_every == 0 and self.ddp.main:
                metrics = self.validate()
                self.log.write({"step": self.step, "val": metrics})
                # Export as we go: a run killed later (or a machine taken back) still leaves
                # weights that --resume and the stages can use.
                self.export(metrics)
        self.checkpoint()
        metrics: dict[str, float] = {}
        if self.ddp.main:
            metrics = self.validate()
            self.log.write({"step": self.step, "val": metrics, "final": True})
            self.export(metrics)
        if self.ddp.world > 1:
            dist.barrier()
        return metrics


def set_requires_grad(model: nn.Module, flag: bool) -> None:
    for p in model.parameters():
        p.requires_grad_(flag)
