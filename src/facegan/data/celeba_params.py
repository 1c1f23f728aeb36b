"""The `data.celeba` section: where PGAN's and StarGAN's faces come from and how they are cropped."""
from __future__ import annotations

from dataclasses import dataclass

from facegan.params import Sections, setting

CELEBA_SOURCES = ("sample", "local", "official", "folder")  # data.celeba.source: facegan.data.sources
CROPS = ("celeba_box", "center_square")  # data.celeba.crop: facegan.data.celeba
# data.celeba.attributes_file, by its suffix: a CSV, or a file in the format of CelebA's list_attr_celeba.txt
# (facegan.data.folder)
CSV_SUFFIX = ".csv"
ATTRIBUTE_FILE_SUFFIXES = (CSV_SUFFIX, ".txt")


@dataclass(frozen=True)
class CelebAParams:
    """Where the faces of PGAN and StarGAN come from, CelebA or a folder of photos, and how they are
    cropped (PGAN's "celeba_cropped", official `dataset_tool.py`, or each photo's centred square)."""

    source: str = setting(choices=CELEBA_SOURCES)
    sample_count: int = setting(low=8)
    sample_seed: int = setting(low=0)
    local_dir: str = setting()
    folder: str = setting()
    attributes_file: str = setting()
    crop: str = setting(choices=CROPS)
    image_size: list[int] = setting(low=1)
    crop_center: list[float] = setting()
    crop_size: int = setting(low=4, power_of_two=True)
    resolution: int = setting(low=4, high=1024, power_of_two=True)
    max_bad_fraction: float = setting(low=0.0, high=1.0)
    workers: int = setting(low=1, high=64)

    def rules(self, prefix: str) -> list[str]:
        problems = []
        if self.resolution > self.crop_size:
            problems.append(f"{prefix}.resolution = {self.resolution}: must be <= crop_size ({self.crop_size})")
        for name in ("crop_center", "image_size"):
            if len(getattr(self, name)) != 2:
                problems.append(f"{prefix}.{name} = {getattr(self, name)}: must be two numbers [x, y]")
        if self.source == "folder" and not self.folder:
            problems.append(f"{prefix}.source = 'folder' with {prefix}.folder empty: set it to the folder of your "
                            "photos")
        if self.attributes_file and not self.attributes_file.lower().endswith(ATTRIBUTE_FILE_SUFFIXES):
            problems.append(f"{prefix}.attributes_file = {self.attributes_file!r}: must be a .csv (a file column, "
                            "then one column per attribute) or a .txt in the format of CelebA's list_attr_celeba.txt")
        return problems


CELEBA_SECTIONS = Sections({"data.celeba": CelebAParams})  # the CelebA data stages'
