"""StarGAN (Choi et al. 2018) editing CelebA attributes: its params, data view, networks and
attribute classifier, losses, training, inference and evaluation, in one place."""
