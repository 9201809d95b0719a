"""Device choice, bf16 autocast and deterministic seeding."""

from __future__ import annotations

import contextlib
import platform
import random
from pathlib import Path

import numpy as np
import torch

from seqlab.errors import SeqlabError


def select_device(name: str = "auto", local_rank: int = 0) -> torch.device:
    """The device of every command's `--device`: `auto` picks cuda, then mps, then cpu; an
    explicit name (cpu, cuda, cuda:N, mps) must be available, else a one-line SeqlabError."""
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    kind, _, index = str(name).partition(":")
    if kind == "cuda" and (index == "" or index.isdigit()):
        if not torch.cuda.is_available():
            raise SeqlabError(f"--device {name} asked for, but no CUDA GPU is available")
        count = torch.cuda.device_count()
        if index and int(index) >= count:
            raise SeqlabError(f"--device {name}: this machine has {count} CUDA GPU(s)")
        return torch.device("cuda", int(index) if index else local_rank % count)
    if name == "mps" and not torch.backends.mps.is_available():
        raise SeqlabError("--device mps asked for, but MPS is not available")
    if name not in ("cpu", "mps"):
        raise SeqlabError(f"unknown device {name!r}; choose auto, cpu, cuda, cuda:N or mps")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on `device` when enabled and supported, else a no-op context."""
    if not enabled:
        return contextlib.nullcontext()
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise SeqlabError("--amp needs bf16, which this GPU does not support")
    if device.type == "cpu" and not cpu_has_bf16():
        # Without AVX512-BF16/AMX, bf16 matrix products are emulated: measured ~1 GFLOP/s
        # against ~120 for float32 on an AVX2 AMD EPYC, so --amp would be ~100x slower.
        raise SeqlabError(
            f"--amp: this CPU ({torch.backends.cpu.get_cpu_capability()}) has no native bf16, "
            "so bf16 matrix products would be about 100 times slower than float32; drop --amp"
        )
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def cpu_has_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels on this CPU (AVX512-BF16 or AMX)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def cpu_name() -> str:
    """The processor's model name ("AMD EPYC"), from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so a run is repeatable."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
