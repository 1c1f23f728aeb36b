"""How a global batch is grouped for PGAN's minibatch stddev and shared between training
processes: integer arithmetic only, so that validating params needs no torch."""
from __future__ import annotations

from facegan.errors import UserError

MINIBATCH_GROUP_SIZE = 4  # the official PGAN code's group size (Karras et al. 2018, section 3)


class BatchSplitError(UserError, ValueError):
    """A global batch cannot be shared equally between the processes."""


def minibatch_group_size(batch: int, preferred: int = MINIBATCH_GROUP_SIZE) -> int:
    """The largest group size <= preferred that divides the batch.

    The official code uses min(4, N) and requires N divisible by it; batch sizes such
    as the PaddlePaddle run's 22 are not, so we fall back to the largest divisor.
    """
    size = min(preferred, batch)
    while batch % size:
        size -= 1
    return size


def stddev_group_size(batch: int) -> int:
    """The group size the critic's minibatch stddev uses on a batch of `batch`."""
    return minibatch_group_size(batch, MINIBATCH_GROUP_SIZE)


def groups_per_process(batch: int, world: int, group_size: int = 1) -> int:
    """How many whole groups of `group_size` each of `world` processes takes from a batch."""
    groups = batch // group_size if batch % group_size == 0 else 0
    if world < 1 or not groups or groups % world:
        raise BatchSplitError(
            f"a batch of {batch} in groups of {group_size} cannot be split over {world} processes: "
            f"make the batch a multiple of {group_size * world}, or change compute.nproc")
    return groups // world
