"""Figures and files from a Trace or plain arrays: plotly figures, faithfulness charts, slides and
exports. May import the layers below (core to explain); never streamlit.
"""
