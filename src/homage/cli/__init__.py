"""The command-line shell over :mod:`homage.pipeline` (Typer + Rich); heavy imports happen per command."""
