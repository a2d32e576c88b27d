import streamlit as st

from pages.shared import ensure_routed

ensure_routed()  # behind the password gate even on a fresh server's first run
st.title("Batch")
st.info("This page is not built yet.")
