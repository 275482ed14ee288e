"""Export side: turn a run's generator into ONNX (`to_onnx`), and run it (`runtime`, numpy + onnxruntime only)."""
