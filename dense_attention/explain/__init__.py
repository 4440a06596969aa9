"""What the numbers mean: faithfulness ablations and scores, the verdict worded from them,
attention comparison, the MiniLM reference and the LaTeX formulas with numbers. May import the
layers below (core to storage).
"""
