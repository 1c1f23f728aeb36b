"""How a global batch is shared between training processes: integer arithmetic only, so that
the params rules that check it need no torch (`training/compute.py` cuts the shares)."""
from __future__ import annotations

from typing import Any, Sequence

from facegan.errors import UserError


class BatchSplitError(UserError, ValueError):
    """A global batch cannot be shared equally between the processes."""


def groups_per_process(batch: int, world: int, group_size: int = 1) -> int:
    """How many whole groups of `group_size` each of `world` processes takes from a batch."""
    groups = batch // group_size if batch % group_size == 0 else 0
    if world < 1 or not groups or groups % world:
        raise BatchSplitError(
            f"a batch of {batch} in groups of {group_size} cannot be split over {world} processes: "
            f"make the batch a multiple of {group_size * world}, or change compute.nproc")
    return groups // world


def batch_split_problems(compute: Any, batches: Sequence[tuple[str, int, int, int]]) -> list[str]:
    """A problem for each (key, global batch, its group size, the batch unit that always
    splits) that compute.nproc x compute.nnodes processes cannot share equally."""
    nproc = compute.nproc * compute.nnodes
    setting = "compute.nproc" if compute.nnodes == 1 else "compute.nproc x compute.nnodes"
    problems = []
    for key, batch, group_size, unit in batches:
        try:
            groups_per_process(batch, nproc, group_size)
        except BatchSplitError:
            groups = f" in whole minibatch-stddev groups (of {group_size} images here)" if unit > 1 else ""
            problems.append(f"{key} = {batch} with {setting} = {nproc}: cannot be shared equally{groups}; "
                            f"make it a multiple of {unit * nproc}, or change {setting}")
    return problems
