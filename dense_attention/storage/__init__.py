"""Checkpoints on disk: safetensors + config.json read and written, the catalog of shipped
checkpoints and the build tool of the stored MiniLM encodings. May import core, inputs, data and
training.
"""
