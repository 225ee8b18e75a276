"""`homage serve`: the REST API and the web page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from homage.cli.common import CatalogOpt, command


@command
def serve(
    catalog: CatalogOpt,
    host: Annotated[str, typer.Option(help="Address to listen on (loopback unless told otherwise).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, help="Server processes (each loads the model and the index once).")
    ] = 1,
    max_upload_mb: Annotated[float, typer.Option(min=0.001, help="Largest upload accepted, in MB.")] = 100.0,
):
    """Serve the API (docs at /docs) and the page where a person hears where two songs match.

    Changes to the catalog need the token in HOMAGE_TOKEN; without one they are taken only on loopback."""
    import os

    import uvicorn

    from homage.api.app import ServeSettings, create_app
    from homage.cli.common import console

    settings = ServeSettings(
        Path(catalog), host=host, token=os.environ.get("HOMAGE_TOKEN") or None, max_upload_mb=max_upload_mb
    )
    writes = (
        "with the token"
        if settings.token
        else "from this machine only"
        if settings.loopback
        else "refused (set HOMAGE_TOKEN)"
    )
    console.print(
        f"homage serving {catalog} on http://{host}:{port}/ (API docs: /docs; changes {writes})", highlight=False
    )
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
    else:
        os.environ.update(settings.to_env())
        uvicorn.run(
            "homage.api.app:app_from_env", factory=True, host=host, port=port, workers=workers, log_level="warning"
        )
