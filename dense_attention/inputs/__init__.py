"""What turns a raw input into x: the text and image encoders and what they share, the one
picture decoder and patch-box function, the stored MiniLM encodings of the example sentences,
Classifier (encoder + model) and tensor splits. May import core only.
"""
