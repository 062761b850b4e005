"""Fine-tuning of any subset of heads: labelled samples, LoRA, feature caching, the trained module."""
