"""The README stays a user's document: its two quick-start commands are the ones CI runs, it
is short, it links into docs/ (which exist), and it carries no dates and no links outside
the repository."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: a path out of the repository (a clone has nothing there); spelled in parts so that this
#: file does not itself contain the link it looks for
OUTSIDE = ".." + "/" + "shared"
DESIGN = "DESIGN" + ".md"
README = (ROOT / "README.md").read_text()

MAIN_JOB = ('python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 -e . '
            '&& qaxai run studies/configs/quick.toml --figures results/figures')
TESTS = ('python3 -m venv .venv && . .venv/bin/activate && pip install torch==2.13.0 '
         '-e ".[test]" && python -m pytest')


def test_the_two_commands_are_unchanged_and_ci_runs_the_second():
    block = README.split("## Quick start", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert commands == [MAIN_JOB, TESTS]
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install torch==2.13.0 -e ".[test]" && python -m pytest\n' in ci
    assert (ROOT / "studies" / "configs" / "quick.toml").is_file()


def test_short_dateless_and_self_contained():
    assert len(README.splitlines()) <= 300
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", README)
    for text in [README] + [p.read_text() for p in (ROOT / "docs").glob("*.md")
                            if p.name != "performance.md"]:
        assert OUTSIDE not in text and DESIGN not in text
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert {"docs/design.md", "docs/performance.md", "docs/results.md"} <= set(links)
    for link in links:
        if not link.startswith("http"):
            assert (ROOT / link).exists(), link


def test_no_source_file_points_outside_the_repository():
    for package in ("spectral", "encoding", "simulate", "studies", "benchmarks", "tests"):
        for path in [*(ROOT / package).rglob("*.py"), *(ROOT / package).rglob("*.toml")]:
            text = path.read_text()
            assert OUTSIDE not in text and DESIGN not in text, path
