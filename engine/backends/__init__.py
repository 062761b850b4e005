"""Inference backends behind one interface: PyTorch and ONNX Runtime.

Importing this package is cheap; the backend modules import torch or onnxruntime.
"""
