"""Bilan for Python: the Streamlit app's entry point, router and shared sidebar."""

import streamlit as st

from pages.shared import access_allowed, identity_sidebar, restore_identity, routed

st.set_page_config(page_title="Bilan", page_icon="👍", layout="wide")

pages = [
    st.Page("pages/playground.py", title="Playground", icon="💬", default=True),
    st.Page("pages/compare.py", title="Compare", icon="⚖️"),
    st.Page("pages/batch.py", title="Batch", icon="📦"),
    st.Page("pages/analytics.py", title="Analytics", icon="📊"),
    st.Page("pages/settings.py", title="Settings", icon="⚙️"),
]

with routed():
    if access_allowed():
        page = st.navigation(pages)
        restore_identity()
        identity_sidebar()
        page.run()
    else:
        st.navigation(pages, position="hidden")
