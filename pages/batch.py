import streamlit as st

st.title("Batch")
st.info("This page is not built yet.")
