"""Data: rendering symbolic music to audio versions (and, later, the versions corpus and its loaders)."""
