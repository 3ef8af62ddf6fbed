"""Build the wheel and check what it ships: the shipped configs and problem data, every
package, and no benchmark, test or docs file."""

import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                        "--wheel-dir", tmp, str(ROOT)], check=True)
        (wheel,) = Path(tmp).glob("qaxai-*.whl")
        names = zipfile.ZipFile(wheel).namelist()
    configs = sorted(p.name for p in (ROOT / "studies" / "configs").glob("*.toml"))
    data = sorted(p.name for p in (ROOT / "studies" / "data").glob("*.json"))
    problems = []
    for name in configs:
        if f"studies/configs/{name}" not in names:
            problems.append(f"missing studies/configs/{name}")
    for name in data:
        if f"studies/data/{name}" not in names:
            problems.append(f"missing studies/data/{name}")
    for package in ("spectral", "encoding", "simulate", "simulate/dwave", "studies"):
        if f"{package}/__init__.py" not in names:
            problems.append(f"missing package {package}")
    stray = [n for n in names if n.split("/")[0] in ("benchmarks", "tests", "docs")
             or "/benchmarks/" in n]
    problems.extend(f"ships {n}" for n in stray)
    print(f"{wheel.name}: {len(names)} files, {len(configs)} configs, {len(data)} data files"
          + ("" if not problems else "\n  " + "\n  ".join(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
