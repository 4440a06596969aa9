"""Datasets and pictures: the Dataset type and its split, the built-in datasets, uploads, baselines,
one picture file read safely, checkpoint/dataset ZIP archives and example pictures. May import
core and inputs.
"""
