"""Export of EchoCare models to other runtimes (ONNX)."""
