"""Datasets in their original on-disk formats, and the packed arrays the models train on.

`celeba_format` reads and writes the official CelebA text files, `synthetic` generates the
embedded sample in that format, `sources` brings a dataset into `data/raw/<dataset>/`,
and `prepare` crops and packs it (REFERENCE 1, "CelebA preprocessing"; 3, "Data").
"""
