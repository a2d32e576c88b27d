import streamlit as st

st.title("Analytics")
st.info("This page is not built yet.")
