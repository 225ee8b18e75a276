"""The catalog: recordings' metadata and vectors in one folder on disk, searchable by similarity."""

from homage.catalog.store import Catalog, Hit, NewRecording, Recording

__all__ = ["Catalog", "Hit", "NewRecording", "Recording"]
