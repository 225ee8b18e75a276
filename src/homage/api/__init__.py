"""The web shell: a REST API and a page (``homage serve``) over :mod:`homage.pipeline`."""
