"""The whole params file in one pass: every section with its schema and every rule between
sections. `facegan params check` loads it, and so do the tests and benchmarks that build a
params file; a stage loads only its own sections (`params.Sections`), so that this module,
which imports every model's schema, is in no stage's deps."""
from __future__ import annotations

from pathlib import Path
from facegan import hifacegan, pgan, stargan
from facegan.data.celeba_params import CelebAParams
from facegan.data.ffhq_params import FFHQParams
from facegan.hifacegan.params import HiFaceGANEvalParams, HiFaceGANParams
from facegan.params import Loaded, Sections
from facegan.pgan.params import LR, PGANEvalParams, PGANParams
from facegan.stargan.params import StarGANEvalParams, StarGANParams
from facegan.training.compute import ComputeParams
from facegan.weights import WeightsParams

EVERY_SECTION = Sections(
    {"lr": LR, "data.celeba": CelebAParams, "data.ffhq": FFHQParams, "pgan": PGANParams, "stargan": StarGANParams,
     "hifacegan": HiFaceGANParams, "weights": WeightsParams, "eval.pgan": PGANEvalParams,
     "eval.stargan": StarGANEvalParams, "eval.hifacegan": HiFaceGANEvalParams, "compute": ComputeParams},
    rules=(pgan.params.resolution_matches_data, pgan.params.batch_split, stargan.params.attributes_known,
           stargan.params.batch_split, hifacegan.params.batch_split))


def load_params(path: Path | str = "params.yaml") -> Loaded:
    """Every section of the params file at `path`, typed and checked; ParamsError lists every
    problem found."""
    return EVERY_SECTION.load(path)
