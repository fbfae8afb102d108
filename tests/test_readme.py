"""The README's Python snippets run: every ```python block, in order, in one namespace.

The blocks build on each other (the usage guide's classifier is saved in a later block), so
they run as one sequence on the backend of the run, in a temporary working directory (the
snippets save presets to relative paths). A failure names the block by its README line and
first line. Blocks must run offline on generated arrays and the shipped presets.
"""

import re
import traceback
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
FENCE = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)


def python_blocks(text):
    """``[(line number, code)]`` of every ```python block, line numbers 1-based."""
    return [(text.count("\n", 0, m.start(1)) + 1, m[1]) for m in FENCE.finditer(text)]


def usage_section(text):
    """The text of the ``## Usage`` section (up to the next ``## `` heading)."""
    start = text.index("\n## Usage\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_usage_guide_has_its_snippets():
    text = README.read_text(encoding="utf-8")
    usage = python_blocks(usage_section(text))
    assert len(usage) >= 6, f"Expected the Usage section's python blocks; received {len(usage)}."
    for line, code in python_blocks(text):
        compile(code, f"README.md:{line}", "exec")  # syntax errors show without running


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "readme"}
    for line, code in python_blocks(README.read_text(encoding="utf-8")):
        first = code.strip().splitlines()[0]
        try:
            exec(compile(code, f"README.md:{line}", "exec"), namespace)
        except Exception as error:  # noqa: BLE001 - any failure of a snippet fails the test
            pytest.fail(
                f"README.md block at line {line} ({first!r}) failed: "
                f"{type(error).__name__}: {error}\n{traceback.format_exc()}"
            )
