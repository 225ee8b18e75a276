"""The commands the README and docs/ show parse as written: every `homage …` line in a code block is parsed
by the real command-line app (options, their types, the subcommands), every script they run exists, and the
Python examples compile."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer

from homage.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def blocks(kind: str | None = None) -> list[tuple[str, str]]:
    """(document name, code) of every fenced block, of one language when ``kind`` is given."""
    found = []
    for document in DOCUMENTS:
        for language, code in BLOCK.findall(document.read_text()):
            if kind is None or language == kind:
                found.append((document.name, code))
    return found


def shell_commands() -> list[tuple[str, list[str]]]:
    """Each shell command of the code blocks, split into words (continued lines joined, comments dropped)."""
    found = []
    for name, code in blocks():
        for line in code.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith(("from ", "import ", "for ", "result", "print", "pipeline")) or not line:
                continue
            for command in re.split(r"&&|;", line):
                words = shlex.split(command)
                if words:
                    found.append((name, words))
    return found


HOMAGE = [(n, w[1:]) for n, w in shell_commands() if Path(w[0]).name == "homage"]
SCRIPTS = [(n, w[1]) for n, w in shell_commands() if Path(w[0]).name.startswith("python") and w[1].endswith(".py")] + [
    (n, w[2].replace(".", "/") + ".py")  # `python -m bench.speed.align_speed`
    for n, w in shell_commands()
    if Path(w[0]).name.startswith("python") and w[1] == "-m" and w[2].startswith(("bench.", "scripts."))
]


def test_the_documents_show_commands():
    assert len(HOMAGE) >= 20 and {"README.md", "tasks.md"} <= {n for n, _ in HOMAGE}
    assert any(script.startswith("bench/") for _, script in SCRIPTS)


@pytest.mark.parametrize("document, words", HOMAGE, ids=[f"{n}: homage {' '.join(w)}"[:80] for n, w in HOMAGE])
def test_each_homage_command_parses(document, words):
    command = typer.main.get_command(app)
    context = command.make_context("homage", list(words), resilient_parsing=False)
    while hasattr(command, "resolve_command"):  # a group: down to the subcommand, parsing each level's options
        name, command, rest = command.resolve_command(context, [*context._protected_args, *context.args])
        context = command.make_context(name, rest, parent=context)
    assert context.command is command


@pytest.mark.parametrize("document, script", SCRIPTS, ids=[f"{n}: {s}" for n, s in SCRIPTS])
def test_each_script_exists(document, script):
    if script.startswith("../shared/") and not (ROOT.parent / "shared").is_dir():
        pytest.skip("../shared/ is not available (read-only project data beside the checkout)")
    assert (ROOT / script).is_file(), f"{document} runs {script}, which is not there"


@pytest.mark.parametrize("document, code", blocks("python"), ids=[n for n, _ in blocks("python")])
def test_each_python_example_compiles(document, code):
    compile(code, document, "exec")
