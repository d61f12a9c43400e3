"""Execute every chapter from an empty cache, in order, and print its time and peak memory.

Budgets (the README's table of measured figures, on 2 cores): chapter 1 under 2 minutes,
every other chapter under 3 minutes once the chapters before it have run, the whole book
under 15 minutes, and no notebook above 2 GB (Binder's limit). Peak memory is the kernel
process's maximum resident set size. Run: ``python benchmarks/book.py`` (about as long as
the book build).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

RUN_ONE = """
import resource, sys, nbformat, nbclient
notebook = nbformat.read(sys.argv[1], as_version=4)
nbclient.NotebookClient(notebook, timeout=900, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[2]}}).execute()
# the kernel has exited and been waited for: its peak memory is in the children's usage
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def chapters() -> list[Path]:
    """The notebooks of _toc.yml, in reading order."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for part in toc.get("parts", [toc]) for entry in part["chapters"]]
    return [ROOT / f"{name}.ipynb" for name in files if (ROOT / f"{name}.ipynb").is_file()]


def main() -> int:
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M %Z')}")
    total = 0.0
    with tempfile.TemporaryDirectory(prefix="audioprune-bench-") as home:
        environment = {**os.environ, "AUDIOPRUNE_HOME": home}
        for notebook in chapters():
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-c", RUN_ONE, str(notebook), str(notebook.parent)],
                                    env=environment, capture_output=True, text=True)
            seconds = time.perf_counter() - start
            total += seconds
            if result.returncode != 0:
                print(f"{notebook.name}: FAILED after {seconds:.0f} s\n{result.stderr[-2000:]}")
                return 1
            peak_mib = int(result.stdout.split()[-1]) / 1024
            print(f"{notebook.name:36s} {seconds:6.0f} s   peak {peak_mib:6.0f} MiB")
    print(f"{'whole book, from an empty cache':36s} {total:6.0f} s   (budget 900 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
