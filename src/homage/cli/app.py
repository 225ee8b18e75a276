"""`homage` command line: one module per command, each parsing its options, calling one library
function and printing; errors are handled in one place (:func:`homage.cli.common.command`)."""

from __future__ import annotations

import sys

import typer

from homage.cli import catalog, compare, data, demo, evaluate, groups, index, optimize, query, scan, serve, train

app = typer.Typer(
    name="homage",
    help="Find which recordings are versions of one another: covers, live takes, re-arrangements.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(index.index)
app.command()(query.query)
app.command()(compare.compare)
app.command()(catalog.info)
app.command()(catalog.remove)
app.command()(optimize.optimize)
app.command()(evaluate.evaluate)
app.command()(scan.scan)
app.command()(groups.groups)
app.command()(demo.demo)
app.command()(serve.serve)
app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": False})(train.train)
app.add_typer(data.data_app, name="data")


def main() -> None:
    for stream in (sys.stdout, sys.stderr):  # a file name that is not valid UTF-8 prints as its bytes
        stream.reconfigure(errors="surrogateescape")
    app()
