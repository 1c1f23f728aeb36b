"""HiFaceGAN (Yang et al. 2020) restoring degraded FFHQ faces: its params, degradations, networks,
losses, training, inference and evaluation, in one place."""
