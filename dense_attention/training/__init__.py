"""Training and searches over it: the training loop, torchrun's process group, the time estimate,
the similarity sweep and tuning. May import core, inputs and data.
"""
