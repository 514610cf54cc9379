"""The dashboard pages, one module each with ``render(ctx)``.

Not called ``pages``: Streamlit would run files in a ``pages/`` folder next to main.py as pages of
their own, reachable by URL without main.py's sign-in. main.py registers these with st.navigation.
"""
