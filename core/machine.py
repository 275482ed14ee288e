"""What CPU this is, in the words our speed figures use: model, cores, and the vector instructions
that decide which speed options pay off (AVX2 only, AVX-512, native bf16). Linux's /proc/cpuinfo,
with a portable fallback."""
from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from functools import cache

# Set by `python -m benchmarks.slow_machine` for the command it runs: the figures then name the simulation.
SIMULATED_ENV = "GAN_WORKBENCH_SIMULATED_CPU"
AVX512_HIDDEN = "AVX-512 hidden"  # in its label when the simulation hides these flags from the command
HIDDEN_WHEN_SIMULATED = ("avx512", "amx_", "avx_vnni")

# Flags that matter here, strongest first: bf16 arithmetic in hardware, then vector widths.
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
VECTOR_FLAGS = ("avx512f", "avx2", "avx")


@dataclass(frozen=True)
class Cpu:
    model: str
    cores: int
    flags: frozenset
    simulated: str = ""

    @property
    def native_bf16(self) -> bool:
        return any(f in self.flags for f in BF16_FLAGS)

    @property
    def instruction_set(self) -> str:
        """'AVX2 only', 'AVX-512 with bf16', …: the phrase every speed figure carries."""
        if "avx512f" in self.flags:
            return "AVX-512 with bf16" if self.native_bf16 else "AVX-512 without bf16"
        if "avx2" in self.flags:
            return "AVX2 only (no AVX-512)"
        return "no AVX2" if self.flags else "instruction set unknown"

    def describe(self) -> str:
        described = f"{self.model}, {self.cores} cores, {self.instruction_set}"
        return f"{described} ({self.simulated})" if self.simulated else described


def parse_cpuinfo(text: str) -> tuple[str, frozenset]:
    model, flags = "", frozenset()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
    return model, flags


@cache
def cpu() -> Cpu:
    model, flags = "", frozenset()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            model, flags = parse_cpuinfo(f.read(1 << 20))
    except OSError:
        pass
    simulated = os.environ.get(SIMULATED_ENV, "")
    if AVX512_HIDDEN in simulated:
        flags = frozenset(f for f in flags if not f.startswith(HIDDEN_WHEN_SIMULATED))
    return Cpu(model or platform.processor() or platform.machine() or "unknown CPU", os.cpu_count() or 1, flags,
               simulated)
