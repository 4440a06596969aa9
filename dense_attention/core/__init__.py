"""The model itself: its config, the error base every user-facing error derives from
(`errors.DenseAttentionError`), the similarity functions, the Trace of intermediates,
DenseAttention, seeded initialisation and the Model page's toy example. Imports nothing else of
the library.
"""
