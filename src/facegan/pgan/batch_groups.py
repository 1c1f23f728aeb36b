"""How PGAN's critic groups a batch for its minibatch stddev: integer arithmetic only, so that
validating params needs no torch."""
from __future__ import annotations

MINIBATCH_GROUP_SIZE = 4  # the official PGAN code's group size (Karras et al. 2018, section 3)


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
