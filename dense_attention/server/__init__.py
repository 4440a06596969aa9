"""What a server runs beside the pages: background jobs and where they run, browser workspaces on
disk, byte-bounded caches, content digests and the live view's payload. May import every layer
below; never streamlit.
"""
