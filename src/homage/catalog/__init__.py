"""The catalog: recordings' metadata, vectors and alignment sequences in one folder on disk, searchable by
similarity (SQLite the source of truth, FAISS a derived index), and their words, searchable as text (FTS5)."""

from homage.catalog.store import Catalog, NewRecording, Recording
from homage.catalog.words import Words

__all__ = ["Catalog", "NewRecording", "Recording", "Words"]
