"""Reports: the alignment picture drawn by several threads at once (as the server draws them) is the picture
drawn alone."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor

from homage import pipeline
from homage.reports import plot_alignment


def test_pictures_drawn_in_threads_at_once_are_the_picture_drawn_alone(piece_dir):
    comparison = pipeline.compare(piece_dir / "work1" / "original.wav", piece_dir / "work1" / "faster.ogg", words=False)
    alone = plot_alignment(comparison, io.BytesIO()).getvalue()
    with ThreadPoolExecutor(4) as pool:
        drawn = list(pool.map(lambda _: plot_alignment(comparison, io.BytesIO()).getvalue(), range(8)))
    assert alone[:4] == b"\x89PNG" and all(picture == alone for picture in drawn)
