"""The `data.ffhq` section: where HiFaceGAN's faces come from and which folders are train and test."""
from __future__ import annotations

from dataclasses import dataclass

from facegan.params import setting

FFHQ_SOURCES = ("sample", "local", "official")  # data.ffhq.source: facegan.data.ffhq


@dataclass(frozen=True)
class FFHQParams:
    """Where FFHQ comes from and which of its folders of 1000 images are train and test."""

    source: str = setting(choices=FFHQ_SOURCES)
    sample_per_folder: int = setting(low=1, high=1000)
    sample_size: int = setting(low=16, high=1024)
    sample_seed: int = setting(low=0)
    local_dir: str = setting()
    train_folders: list[int] = setting(low=0, high=69000)
    test_folders: list[int] = setting(low=0, high=69000)

    @property
    def ranges(self) -> dict[str, list[int]]:
        return {"train": self.train_folders, "test": self.test_folders}

    def rules(self, prefix: str) -> list[str]:
        """Folder ranges: [first, last] folders (multiples of 1000), train and test apart."""
        problems = []
        for split, folders in self.ranges.items():
            if len(folders) != 2 or folders[0] > folders[1] or any(folder % 1000 for folder in folders):
                problems.append(f"{prefix}.{split}_folders = {folders}: must be [first, last] folders, "
                                "multiples of 1000, first <= last")
        if problems:
            return problems
        (a0, a1), (b0, b1) = self.train_folders, self.test_folders
        if a0 <= b1 and b0 <= a1:
            problems.append(f"{prefix}.train_folders {self.train_folders} and test_folders {self.test_folders} "
                            "overlap: an image must not be in both")
        return problems
