"""Training loops, losses, checkpoints and logs."""
