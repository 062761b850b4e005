"""Clinical tasks, one per file: preprocessing, the model's heads, post-processing into typed results.

Importing this package does not import torch; ``engine.tasks.runner`` does, through the predictor.
"""
