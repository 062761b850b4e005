"""Training: self-supervised pretraining, fine-tuning of every head, distillation (Qt-free)."""
