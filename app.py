"""Dense Attention Lab: the Streamlit entry point. Page config, shared sidebar, navigation."""

import streamlit as st

st.set_page_config(page_title="Dense Attention Lab", layout="wide")

# One entry per page in pages/; the first is the home page.
PAGES = [
    st.Page("pages/model.py", title="The model", icon=":material/function:", default=True),
]

st.sidebar.title("Dense Attention Lab")
st.navigation(PAGES).run()
