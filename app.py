"""Bilan for Python: the Streamlit app's entry point and router."""

import streamlit as st

st.set_page_config(page_title="Bilan", page_icon="👍", layout="wide")

pages = [
    st.Page("pages/playground.py", title="Playground", icon="💬", default=True),
    st.Page("pages/compare.py", title="Compare", icon="⚖️"),
    st.Page("pages/batch.py", title="Batch", icon="📦"),
    st.Page("pages/analytics.py", title="Analytics", icon="📊"),
    st.Page("pages/settings.py", title="Settings", icon="⚙️"),
]
st.navigation(pages).run()
