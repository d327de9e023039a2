"""Every ```python block of README.md runs as written (in a fresh namespace, inside a temporary folder).

A block that cannot run here (licensed data, a GPU, downloaded weights) must say so on its first line with
`# not run by tests: <reason>`; this test skips it and reports the reason.
"""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SKIP_MARK = "# not run by tests:"


def python_blocks() -> list[tuple[int, str]]:
    """(line number, source) of each fenced python block."""
    text = README.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1))
            for m in re.finditer(r"^```python\n(.*?)^```", text, flags=re.S | re.M)]


BLOCKS = python_blocks()


def test_the_readme_has_python_blocks():
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("line, source", BLOCKS, ids=[f"README.md:{line}" for line, _ in BLOCKS])
def test_readme_python_block_runs(line, source, tmp_path, monkeypatch):
    first = source.lstrip().splitlines()[0]
    if first.startswith(SKIP_MARK):
        pytest.skip(first[len(SKIP_MARK):].strip())
    monkeypatch.chdir(tmp_path)                    # blocks that write files write them here
    exec(compile(source, f"README.md:{line}", "exec"), {"__name__": "readme"})
