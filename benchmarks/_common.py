"""Helpers shared by the benchmarks: machine description, timing, docs/benchmarks.md sections."""

from __future__ import annotations

import os
import platform
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from skeletonzoo._machine import cpuinfo

DOCS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def machine() -> str:
    """One line describing the machine and the torch build."""
    fields = cpuinfo()
    cpu = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields:
        # virtual machines often report a bare "AMD EPYC" or "Intel(R) Xeon(R) Processor": the
        # family/model and the vector extensions tell CPU generations apart (their speeds differ 2x)
        flags = set(fields.get("flags", "").split())
        isa = next((f for f in ("amx_bf16", "avx512_bf16", "avx512f", "avx2") if f in flags), "")
        cpu += f" (family {fields['cpu family']}, model {fields.get('model', '?')}{', ' + isa if isa else ''})"
    gpu = ""
    if torch.cuda.is_available():
        gpu = f", GPU {torch.cuda.get_device_name(0)}"
    return (
        f"{cpu}, {os.cpu_count()} logical cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads){gpu}, Python {platform.python_version()}"
    )


def alternate(
    fns: dict[str, Callable[[], object]], repeats: int, sync: Callable[[], None] = lambda: None
) -> dict[str, list[float]]:
    """Time each function ``repeats`` times, interleaving them so drift hits all equally."""
    for fn in fns.values():  # warm-up
        fn()
    sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def write_section(name: str, markdown: str, path: Path = DOCS) -> None:
    """Replace the ``<!-- bench:name -->`` ... ``<!-- /bench:name -->`` section of the docs."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{begin}\n{markdown.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
