"""Embedding throughput: skeletonzoo's encoder against a straightforward eager ST-GCN.

The baseline below is written the way the original ``net/st_gcn.py`` computes (BatchNorm
modules, einsum graph convolution, every person run through the network), and loads the same
weights. Both run on NTU-shaped batches ``(N, 3, 50, 25, 2)`` where half of the samples have a
single (zero-padded second) person, alternating in one process. Outputs are compared first.

    python benchmarks/bench_embed.py [--repeats 5] [--write]

``--write`` records the table in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import alternate, machine, median, write_section  # noqa: E402

from skeletonzoo.convert import reference_encoder_key  # noqa: E402
from skeletonzoo.models import SkeletonEncoder  # noqa: E402


class EagerBlock(nn.Module):
    """The original ``st_gcn`` block, module for module."""

    def __init__(self, c_in: int, c_out: int, k: int, stride: int, residual: bool) -> None:
        super().__init__()
        self.k = k
        self.gcn = nn.Module()
        self.gcn.conv = nn.Conv2d(c_in, c_out * k, 1)
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (9, 1), (stride, 1), (4, 0)),
            nn.BatchNorm2d(c_out), nn.Dropout(0.5),
        )  # fmt: skip
        if not residual:
            self.residual = lambda x: 0
        elif c_in == c_out and stride == 1:
            self.residual = lambda x: x
        else:
            self.residual = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        res = self.residual(x)
        x = self.gcn.conv(x)
        n, kc, t, v = x.size()
        x = x.view(n, self.k, kc // self.k, t, v)
        x = torch.einsum("nkctv,kvw->nctw", (x, a)).contiguous()
        return F.relu(self.tcn(x) + res)


class EagerSTGCN(nn.Module):
    """The original ``Model`` forward (no head): data_bn, 10 blocks, pool, mean over M."""

    def __init__(self, a: torch.Tensor, c: int = 3, h: int = 16, d: int = 256) -> None:
        super().__init__()
        self.register_buffer("A", a.clone())
        v = a.shape[1]
        self.data_bn = nn.BatchNorm1d(c * v)
        plan = [(c, h, 1, False), (h, h, 1, True), (h, h, 1, True), (h, h, 1, True),
                (h, 2 * h, 2, True), (2 * h, 2 * h, 1, True), (2 * h, 2 * h, 1, True),
                (2 * h, 4 * h, 2, True), (4 * h, 4 * h, 1, True), (4 * h, d, 1, True)]  # fmt: skip
        self.st_gcn_networks = nn.ModuleList(EagerBlock(i, o, a.shape[0], s, r) for i, o, s, r in plan)
        self.edge_importance = nn.ParameterList(nn.Parameter(torch.ones_like(a)) for _ in plan)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.size()
        x = x.permute(0, 4, 3, 1, 2).contiguous().view(n * m, v * c, t)
        x = self.data_bn(x)
        x = x.view(n, m, v, c, t).permute(0, 1, 3, 4, 2).contiguous().view(n * m, c, t, v)
        for gcn, importance in zip(self.st_gcn_networks, self.edge_importance):
            x = gcn(x, self.A * importance)
        x = F.avg_pool2d(x, x.size()[2:])
        return x.view(n, m, -1).mean(dim=1)


def load_weights(path: str | None) -> SkeletonEncoder:
    if path:
        from skeletonzoo.convert import convert_reference_checkpoint

        return convert_reference_checkpoint(path, "msmclr")["joint"]
    torch.manual_seed(0)
    enc = SkeletonEncoder()
    with torch.no_grad():  # non-trivial BN statistics so folding is exercised
        for name, b in enc.named_buffers():
            if name.endswith("running_var"):
                b.uniform_(0.5, 1.5)
            elif name.endswith("running_mean"):
                b.normal_(0, 0.1)
    return enc.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--weights", default=None, help="original MsMCLR checkpoint (optional)")
    parser.add_argument("--write", action="store_true", help="record results in docs/benchmarks.md")
    args = parser.parse_args()
    torch.set_num_threads(min(torch.get_num_threads(), 16))

    ours = load_weights(args.weights).eval()
    baseline = EagerSTGCN(ours.A).eval()
    baseline.load_state_dict({reference_encoder_key(k): v for k, v in ours.state_dict().items()})

    rows = []
    for batch in (64, 256):
        g = torch.Generator().manual_seed(batch)
        x = torch.randn(batch, 3, 50, 25, 2, generator=g) * 0.3
        x[batch // 2 :, ..., 1] = 0  # half the samples have one person

        def run_baseline(x: torch.Tensor = x) -> torch.Tensor:
            with torch.no_grad():
                return baseline(x)

        def run_ours(x: torch.Tensor = x) -> torch.Tensor:
            with torch.inference_mode():
                return ours.forward_features(x)

        diff = (run_baseline() - run_ours()).abs().max().item()
        times = alternate({"baseline": run_baseline, "ours": run_ours}, args.repeats)
        b, o = median(times["baseline"]), median(times["ours"])
        rows.append((batch, batch / b, batch / o, b / o, diff))
        print(f"N={batch}: eager {batch / b:.1f} seq/s, skeletonzoo {batch / o:.1f} seq/s, "
              f"ratio {b / o:.2f}x, max |diff| {diff:.2e}", flush=True)

    table = [
        "## Embedding (`benchmarks/bench_embed.py`)",
        "",
        f"Machine: {machine()}.",
        f"Command: `python {' '.join(sys.argv)}`"
        + (" (weights: the original-code MsMCLR parity checkpoint)" if args.weights else " (random weights)")
        + "; median of the repeats, baseline and ours alternating in one process.",
        "Batches `(N, 3, 50, 25, 2)`, half of the samples single-person. Baseline: eager ST-GCN "
        "written like the original `net/st_gcn.py` under `torch.no_grad()`; ours: "
        "`SkeletonEncoder.forward_features` under `torch.inference_mode()` (BN folded, padded "
        "persons computed once per set of weights).",
        "",
        "| N | eager seq/s | skeletonzoo seq/s | ratio | max abs diff |",
        "|---|---|---|---|---|",
    ]
    table += [f"| {n} | {b:.1f} | {o:.1f} | {r:.2f}x | {d:.1e} |" for n, b, o, r, d in rows]
    if args.write:
        write_section("embed", "\n".join(table))
    print("\n".join(table))


if __name__ == "__main__":
    main()
