"""Datasets in their original on-disk formats, and the packed arrays the models train on.

`celeba_format` reads and writes the official CelebA text files, `synthetic` generates the
embedded sample in that format, `sources` brings a dataset into `data/raw/<dataset>/`,
and `prepare` crops and packs it (PGAN's "celeba_cropped" box of the official `dataset_tool.py`;
StarGAN's centre crop and resize of its official data loader).
"""
