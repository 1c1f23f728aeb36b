"""Reproducible face-GAN pipeline."""
