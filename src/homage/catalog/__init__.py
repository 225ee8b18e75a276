"""The catalog: recordings' metadata, vectors and alignment sequences in one folder on disk, searchable by
similarity (SQLite the source of truth, FAISS a derived index)."""

from homage.catalog.store import Catalog, NewRecording, Recording

__all__ = ["Catalog", "NewRecording", "Recording"]
