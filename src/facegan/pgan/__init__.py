"""Progressive GAN (Karras et al. 2018) on CelebA: its params, networks, training step per
scale, inference and evaluation, in one place."""
