"""What machine this process runs on, in one line: for training provenance and evaluation reports."""

from __future__ import annotations

import functools
import os
import platform

import torch

__all__ = ["hardware", "cpu_has_bf16_kernels", "cpuinfo"]


@functools.lru_cache(maxsize=1)
def cpuinfo() -> dict[str, str]:
    """The first processor's fields of ``/proc/cpuinfo`` (``model name``, ``cpu family``, ``flags``,
    ...); empty where the file does not exist (not Linux)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if not line.strip():  # the first processor's block is enough
                    break
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    return fields


def _cpu_name() -> str:
    return cpuinfo().get("model name") or platform.processor() or platform.machine()


def cpu_has_bf16_kernels() -> bool:
    """Whether oneDNN has bfloat16 kernels for this CPU (AVX-512 and up; AVX2 CPUs have none).

    Without them ``torch.autocast("cpu", torch.bfloat16)`` still runs, on slow emulated paths:
    an MsMCLR step at batch 128 took 160.5 s instead of 12.4 s in float32 on an AVX2 AMD EPYC
    (docs/benchmarks.md). Asks torch's private ``mkldnn._is_mkldnn_bf16_supported`` op; where a
    torch build lacks it, the CPU flags (``avx512bw``, ``avx512vl`` and ``avx512dq``, the AVX-512
    subsets that op asks for on x86).
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return {"avx512bw", "avx512vl", "avx512dq"} <= set(cpuinfo().get("flags", "").split())


def hardware(device: torch.device | str | None = None, world_size: int = 1) -> str:
    """One line: CPU (cores, threads) or GPU model, and the number of processes."""
    device = torch.device(device or "cpu")
    if device.type == "cuda":
        what = f"{world_size} x {torch.cuda.get_device_name(device)}"
    else:
        # the vector extension torch's kernels use: results of float32 sums and bf16 speed depend
        # on it (docs/results.md, docs/benchmarks.md), and VMs often name the CPU only "AMD EPYC"
        what = (f"{_cpu_name()} ({torch.backends.cpu.get_cpu_capability()}), {os.cpu_count()} logical cores, "
                f"{torch.get_num_threads()} torch threads")  # fmt: skip
        if world_size > 1:
            what += f", {world_size} processes"
    return what


def usable_device(device: str | torch.device | None) -> torch.device:
    """``device`` (``None``: the CPU) as a ``torch.device`` that exists on this machine.

    Raises:
        ValueError: not a device name, or a CUDA device this machine or torch build lacks
            (instead of an error deep inside the first tensor operation).
    """
    try:
        resolved = torch.device(device if device is not None else "cpu")
    except (RuntimeError, TypeError):
        raise ValueError(f"unknown device {device!r}; use cpu, cuda or cuda:N") from None
    if resolved.type == "cpu":
        return torch.device("cpu")  # "cpu:0" is the CPU too (some readers refuse an index)
    if resolved.type == "meta":
        raise ValueError("device 'meta' holds no data (shapes only); use cpu or cuda")
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only torch build" if torch.version.cuda is None else "no CUDA device is visible"
            raise ValueError(f"device {str(resolved)!r} asked for, but CUDA is not available here ({build}, torch "
                             f"{torch.__version__}); use the CPU (--device cpu)")  # fmt: skip
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(resolved)!r} asked for, but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s) (cuda:0 ...)")  # fmt: skip
    return resolved
