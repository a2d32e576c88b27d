"""The Streamlit app's rules, without Streamlit: identity, the password gate, views, texts.

May import: everything but ``server``. Only ``pages/`` and ``app.py`` import this package.
"""
