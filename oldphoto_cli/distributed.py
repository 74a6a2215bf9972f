"""Batch restore/detect across processes: torchrun ranks, ``--shard``, one merged summary.

Under ``torchrun --nproc-per-node N -m oldphoto_cli restore IN OUT`` every process sees the
same sorted input list and keeps its own part of it, so each image is processed exactly
once; combined with ``--shard K/N`` (SLURM array x torchrun per node) the two splits
compose into one (:func:`effective_shard`). Each rank picks its own GPU
(``cuda:LOCAL_RANK``) when the device is ``auto``/``cuda``.

Only rank 0 writes to stdout: its own JSON records as they finish, then the other ranks'
records, gathered over a CPU (gloo) process group at the end. Every rank exits with the
same status: 1 when any rank had a failure. Progress bar and notes come from rank 0;
per-file errors are printed by the rank that hit them (each image is on one rank only).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

# Ranks finish at different times; the first one done waits in the gather for the last.
DEFAULT_TIMEOUT_S = 24 * 3600
TIMEOUT_ENV = "OLDPHOTO_DIST_TIMEOUT"


@dataclass(frozen=True)
class RankInfo:
    """Where this process sits in a torchrun job (rank 0 of 1 when not launched by one)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    can_merge: bool = False  # torchrun's rendezvous variables are present

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def rank_from_env(environ: Mapping[str, str] | None = None) -> RankInfo:
    """RANK / WORLD_SIZE / LOCAL_RANK as torchrun sets them; missing or bad: single process."""
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local_rank = int(env.get("LOCAL_RANK", str(rank)))
    except ValueError as error:
        raise ValueError(
            f"bad torchrun environment (RANK/WORLD_SIZE/LOCAL_RANK): {error}"
        ) from None
    if world <= 1:
        return RankInfo()
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is outside WORLD_SIZE={world}")
    can_merge = "MASTER_ADDR" in env and "MASTER_PORT" in env
    return RankInfo(rank, world, max(0, local_rank), can_merge)


def effective_shard(shard: tuple[int, int] | None, info: RankInfo) -> tuple[int, int] | None:
    """One ``(K, N)`` for ``--shard`` and the torchrun rank together.

    ``--shard k/n`` keeps sorted indices ``i % n == k-1``; rank ``r`` of ``W`` then keeps
    every ``W``-th of those from the ``r``-th on, which is ``i % (n*W) == k-1 + n*r``.
    Over all ``k`` and ``r`` every index is kept exactly once.
    """
    if not info.active:
        return shard
    k, n = shard or (1, 1)
    return k + n * info.rank, n * info.world


def rank_device(spec: str | None, info: RankInfo, cuda_count: int | None = None) -> str:
    """``auto``/``cuda`` become ``cuda:LOCAL_RANK`` (modulo the GPU count) on a multi-rank
    CUDA job; anything else (``cpu``, an explicit ``cuda:N``, ``mps``) is kept as given."""
    spec = (spec or "auto").strip()
    if not info.active or spec.lower() not in ("auto", "cuda"):
        return spec
    if cuda_count is None:
        import torch

        cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if cuda_count <= 0:
        return spec  # auto -> cpu; cuda -> the usual "CUDA is not available" usage error
    return f"cuda:{info.local_rank % cuda_count}"


def _timeout() -> timedelta:
    try:
        return timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)))
    except ValueError:
        return timedelta(seconds=DEFAULT_TIMEOUT_S)


@dataclass
class Merged:
    """What the ranks found together."""

    others: list[Any]  # on rank 0: the other ranks' results, in rank order; else []
    all_results: list[Any]  # on rank 0: every rank's results; else this rank's own
    failed: bool  # any rank had a failure (the same on every rank)


def merge_results(results: Sequence[Any], failed: bool, info: RankInfo) -> Merged:
    """Gather every rank's results on rank 0 and agree on failure, over a gloo group.

    ``results`` must pickle (``runner.ItemResult`` does). Without torchrun's rendezvous
    variables there is nothing to merge with: each rank keeps its own results.
    """
    own = list(results)
    if not info.active or not info.can_merge:
        return Merged([], own, failed)
    import torch
    import torch.distributed as dist

    created = not dist.is_initialized()
    if created:
        dist.init_process_group("gloo", timeout=_timeout())
    group = dist.new_group(backend="gloo", timeout=_timeout()) if not created else None
    try:
        gathered: list[Any] | None = [None] * info.world if info.main else None
        dist.gather_object(own, gathered, dst=0, group=group)
        flag = torch.tensor([1 if failed else 0], dtype=torch.int32)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX, group=group)
    finally:
        if created:
            dist.destroy_process_group()
    any_failed = bool(flag.item())
    if not info.main:
        return Merged([], own, any_failed)
    others = [r for part in (gathered or [])[1:] for r in (part or [])]
    return Merged(others, own + others, any_failed)
