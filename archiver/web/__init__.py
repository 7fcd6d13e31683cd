"""The web interface (FastAPI, server-rendered) and the replay origin (pywb in a child process)."""
