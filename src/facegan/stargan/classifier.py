"""The attribute classifier that judges StarGAN's edits (Choi et al. 2018, section 5.2:
"classification error of a facial attribute classifier on the synthesized images").

Trained on real training images only, with the same binary cross-entropy StarGAN's
critic uses for its class head, and resumable like every train stage (`loop.py`).
"""
from __future__ import annotations

import torch

from facegan.params import Sections
from facegan.stargan.data import PreparedStarGAN
from facegan.stargan.losses import classification_loss
from facegan.stargan.model import build_classifier
from facegan.stargan.params import AttributeClassifierParams, StarGANParams, batch_split
from facegan.training.batch_loader import TrainingBatches
from facegan.training.compute import Compute, ComputeParams, Network
from facegan.training.loop import LoopState, RunPaths, StepValues, resume, run_loop, run_meta, write_model

# StarGAN's section whole, so that its rules between data and networks hold here too.
TRAINING_SECTIONS = Sections({"stargan": StarGANParams, "compute": ComputeParams}, rules=(batch_split,))

LOG_COLUMNS = ["loss", "accuracy"]


def train_classifier(params: AttributeClassifierParams, data: PreparedStarGAN, paths: RunPaths,
                     inputs: dict[str, str], compute: Compute) -> dict:
    """Train on the real training images (random flips), resuming a run made from the same
    `inputs`, then write model.pt."""
    config = {"attributes": data.attribute_names, "image_size": data.images.shape[1], "conv_dim": params.conv_dim,
              "repeat_num": params.repeat_num}
    torch.manual_seed(params.seed)
    classifier = build_classifier(config).to(compute.device)
    optimizer = torch.optim.Adam(classifier.parameters(), lr=params.lr)
    state = LoopState(
        parts={"C": classifier, "opt": optimizer},
        rng=torch.Generator().manual_seed(params.seed),
        meta=run_meta(config, inputs),
    )
    resume(state, paths.work, "the attribute classifier", announce=compute.main)
    labels, share, network = torch.from_numpy(data.labels), compute.share(params.batch), Network(classifier, compute)

    def step(batch: dict) -> StepValues:
        target = share.of(labels[batch["rows"]]).to(compute.device)
        logits = network(compute.images(batch["images"]))
        loss = classification_loss(logits, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach(), "accuracy": ((logits > 0) == (target > 0.5)).float().mean()}

    batches = TrainingBatches(data.images, share, params.seed, mirror=True, rows=data.indices("train"))
    trained = run_loop(state, params.iterations, step, batches, compute=compute, paths=paths, columns=LOG_COLUMNS,
                       plotted=LOG_COLUMNS, log_every=max(1, params.iterations // 50),
                       checkpoint_every=max(1, params.iterations // 5), desc="attribute classifier")
    if compute.main:
        write_model(state, paths, keep=("C",))
    return {"iterations": state.iteration, "trained_now": trained, "seconds": state.seconds}
