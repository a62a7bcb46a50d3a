"""Shared test fixtures: parity data, the optional ../shared directory, small models."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = Path(os.environ.get("SKELETONZOO_SHARED", REPO.parent / "shared"))
PARITY = SHARED / "parity"

torch.set_num_threads(min(2, torch.get_num_threads()))


def shared_file(relative: str) -> Path:
    """A file under ../shared, or skip the test with the reason."""
    path = SHARED / relative
    if not path.exists():
        pytest.skip(
            f"needs {relative} from the project's shared directory ({SHARED} not present; "
            "set SKELETONZOO_SHARED to its location)"
        )
    return path


def parity_array_file(name: str) -> Path:
    """``shared/parity/NAME`` when present, else the copy in tests/fixtures.

    The parity arrays must come from the same place as the reference checkpoints and loss
    fixtures they were computed with (all under ``shared/parity``), so the copies serve only
    where ``shared`` is absent (their tests need no checkpoint).
    """
    path = PARITY / name
    return path if path.exists() else FIXTURES / name


def _load_npz(name: str) -> dict[str, np.ndarray]:
    with np.load(parity_array_file(name)) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="session")
def inputs() -> dict[str, np.ndarray]:
    return _load_npz("inputs.npz")


@pytest.fixture(scope="session")
def expected_msmclr() -> dict[str, np.ndarray]:
    return _load_npz("expected_msmclr.npz")


@pytest.fixture(scope="session")
def expected_crosscale() -> dict[str, np.ndarray]:
    return _load_npz("expected_crosscale.npz")


@pytest.fixture(scope="session")
def msmclr_ref_path() -> Path:
    return shared_file("parity/msmclr_ref_state.pt")


@pytest.fixture(scope="session")
def crosscale_ref_path() -> Path:
    return shared_file("parity/crosscale_ref_state.pt")


@pytest.fixture(scope="session")
def msmclr_ref(msmclr_ref_path):
    from skeletonzoo.convert import load_reference_checkpoint

    return load_reference_checkpoint(msmclr_ref_path, "msmclr")


@pytest.fixture(scope="session")
def crosscale_ref(crosscale_ref_path):
    from skeletonzoo.convert import load_reference_checkpoint

    return load_reference_checkpoint(crosscale_ref_path, "crosscale-sgclr")


def randomize_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter and BN statistic non-trivial values (BN folding must matter)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "edge_importance" in name:
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            elif name.endswith("weight") and p.dim() == 1:
                p.copy_(torch.rand(p.shape, generator=g) * 0.8 + 0.6)
            else:
                p.copy_(
                    torch.randn(p.shape, generator=g) * (0.2 if p.dim() == 1 else 1.0 / max(1, p[0].numel()) ** 0.5)
                )
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)
    return module


@pytest.fixture
def spectral_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, ...]]:
    """The input shape of every spectral temporal convolution the encoders really compute in the test.

    A spy, because results cannot tell the algorithms apart: both are the same function to rounding.
    """
    from skeletonzoo.models import stgcn

    calls: list[tuple[int, ...]] = []
    spectral = stgcn.spectral_temporal_conv

    def spy(x: torch.Tensor, *args: object) -> torch.Tensor:
        calls.append(tuple(x.shape))
        return spectral(x, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(stgcn, "spectral_temporal_conv", spy)
    return calls
