"""Training data: frame sources, label trees, seeded augmentation, patient-level splits."""
