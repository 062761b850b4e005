"""Self-supervised pretraining of the EchoCare encoder (masked image modelling + label tree)."""
