"""Bilan for Python: the Streamlit app's entry point, router and shared sidebar."""

import streamlit as st

from pages.shared import access_allowed, app_pages, identity_sidebar, restore_identity, routed

st.set_page_config(page_title="Bilan", page_icon="👍", layout="wide")

with routed():
    if access_allowed():
        page = st.navigation(app_pages())
        restore_identity()
        identity_sidebar()
        page.run()
    else:
        st.navigation(app_pages(), position="hidden")
