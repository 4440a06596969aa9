"""Datasets and pictures: the built-in datasets, uploads, baselines, checkpoint/dataset ZIP
archives and example pictures. May import core and inputs.
"""
