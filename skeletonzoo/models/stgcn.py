"""The ST-GCN skeleton encoder shared by every method in the zoo.

Yan, Xiong and Lin, "Spatial Temporal Graph Convolutional Networks for Skeleton-Based Action
Recognition", AAAI 2018, at the width used by AimCLR, MsMCLR, CrosSCLR and CrosScale-SGCLR
(``hidden_channels=16``, ``hidden_dim=256``). The computation is identical to the original
``net/st_gcn.py`` on the plain path: data BatchNorm over joint-major ``V*C`` channels, ten
blocks of graph convolution + temporal convolution with learned edge importance, mean pooling
over time and joints, then the **mean over persons, zero-padded persons included**.

Differences from the original code:

* the classifier/projection head is not part of the encoder (see ``models.heads``): the
  encoder returns the pooled ``(N, num_features)`` representation;
* state-dict keys are named for what they hold (``blocks.L.tcn.conv`` instead of
  ``st_gcn_networks.L.tcn.2``); ``skeletonzoo.convert`` maps the original names;
* in eval mode with gradients off, :meth:`SkeletonEncoder.forward_features` takes a fused path
  (BatchNorm folded into the convolutions, the all-zero padded person computed once per set
  of weights) that returns the same numbers (``skeletonzoo.models._inference``).

The training path computes the same maths as the original, more cheaply:

* activations are kept in ``channels_last`` memory (logical ``(R, C, T, V)``, stored as
  ``(R, T, V, C)``): the graph convolution then needs no layout copies and BatchNorm runs
  faster; the float32 temporal convolution alone is 10-20% slower there, but a whole float32
  MsMCLR step is about 7% faster (1.07x) than with that convolution in NCHW, and under bf16 autocast the
  convolution itself is faster too (benchmarks/bench_training_ops.py, docs/benchmarks.md);
  :meth:`SkeletonEncoder.forward_maps` returns a ``channels_last`` tensor;
* dropout draws its keep mask from random bytes (:func:`keep_mask`, exactly the same
  Bernoulli(1 - p) distribution as ``nn.Dropout`` for the papers' p = 0.5) and is fused with the
  residual addition into one ``addcmul``; ReLUs run in place where autograd allows;
* on request (:func:`set_temporal_conv`, recipe ``temporal_conv: spectral``) the wide stride-1
  temporal convolutions run in the frequency domain (``models.spectral_conv``): the same
  function with fewer products (the last block's: 25 channel products per sample and joint
  instead of 117), rounding differently (float32: a few 1e-6).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..skeleton.graph import build_adjacency
from ..skeleton.layouts import Layout, get_layout
from .config import EncoderConfig
from .spectral_conv import spectral_temporal_conv

if TYPE_CHECKING:
    from ._inference import FusedEncoder

__all__ = [
    "GraphConv",
    "TemporalConv",
    "ResidualProjection",
    "STGCNBlock",
    "SkeletonEncoder",
    "keep_mask",
    "dropout_add",
    "use_original_graph_order",
    "set_temporal_conv",
    "TEMPORAL_CONV_ALGORITHMS",
    "SPECTRAL_MIN_CHANNELS",
    "SPECTRAL_MAX_FRAMES",
]


class GraphConv(nn.Module):
    """Spatial graph convolution: a 1x1 conv to ``K * out_channels``, then ``A`` over joints.

    ``y[r, c, t, w] = sum_k sum_v (W_k x + b_k)[r, c, t, v] * A[k, v, w]``

    The parameters are the original's (``conv`` maps ``C_in`` to ``K * C_out``), but the
    contraction runs in the cheaper order and layout: the input, stored ``(R, T, V, C_in)``
    (``channels_last``), is first aggregated over source joints for every (target joint,
    partition) pair, which keeps the narrow ``C_in`` side (``C_in <= C_out`` in every block);
    then one matrix product mixes partitions and channels, and the bias, carried through ``A``,
    is added per output joint. Same numbers as the original's conv-then-einsum to float
    rounding; the output comes out ``channels_last`` for the temporal convolution.

    ``original_order = True`` (:func:`use_original_graph_order`) runs the original's order
    instead, for float32 results that round as the original's do (see there).
    """

    def __init__(self, in_channels: int, out_channels: int, num_partitions: int) -> None:
        super().__init__()
        self.num_partitions = num_partitions
        self.out_channels = out_channels
        self.conv = nn.Conv2d(in_channels, out_channels * num_partitions, kernel_size=1)
        self.original_order = False

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """Args: x ``(R, C_in, T, V)`` (any memory format), adjacency ``(K, V, V)``.

        Returns:
            ``(R, C_out, T, V)`` in ``channels_last`` memory format.
        """
        k, c_out = self.num_partitions, self.out_channels
        r, c_in, t, v = x.shape
        if self.original_order:
            # PARITY: the original's 1x1 conv to K*C_out channels on a contiguous input, then the
            # einsum over joints (a channels_last conv rounds differently)
            y = self.conv(x.contiguous()).view(r, k, c_out, t, v)
            return torch.einsum("nkctv,kvw->nctw", y, adjacency).contiguous(memory_format=torch.channels_last)
        # (R, C_in, T, V) -> (R*T, V, 1, C_in): a free view when x is channels_last. Read as a
        # conv input, joints are the channels and input channels the width, so the aggregation
        # over source joints is a 1x1 convolution (oneDNN; 1.6-2x faster fwd+bwd on CPU than the
        # skinny K=25 matrix product torch.matmul makes of it, gradient for A included)
        rows = x.permute(0, 2, 3, 1).reshape(r * t, v, 1, c_in)
        # A as a (V*K, V) matrix with row w*K + k = A[k, :, w], so that for every (r, t)
        # z[r*T + t, w*K + k, 0, :] = sum_v A[k, v, w] x[r, :, t, v]
        z = F.conv2d(rows, adjacency.permute(2, 0, 1).reshape(v * k, v, 1, 1))
        # conv weight (K*C_out, C_in, 1, 1) -> (K*C_in, C_out) with row k*C_in + i, matching z's
        # (joint, partition, channel) order: one GEMM over (partition, channel) per output joint
        weight = self.conv.weight.view(k, c_out, c_in).permute(0, 2, 1).reshape(k * c_in, c_out)
        y = torch.matmul(z.reshape(r, t, v, k * c_in), weight)  # (R, T, V, C_out)
        if self.conv.bias is not None:
            # sum_k b[k, c] * sum_v A[k, v, w], as (V, C_out)
            bias = torch.einsum("kc,kw->wc", self.conv.bias.view(k, c_out), adjacency.sum(1))
            y = y + bias.to(y.dtype)
        # (R, T, V, C_out) -> (R, C_out, T, V): a view with channels_last strides
        return y.permute(0, 3, 1, 2)


def use_original_graph_order(module: nn.Module, enabled: bool = True) -> nn.Module:
    """Make every :class:`GraphConv` in ``module`` contract in the original's order; returns it.

    Both orders compute the same function, but float32 rounds differently, and that matters
    where ReLU inputs sit within rounding of zero: which side of the kink they land on decides
    whether gradient flows through them, so one step's backbone gradients can differ by 4.7e-3
    of their largest entry between the orders (MsMCLR fixture), while the original's order reproduces the
    original's float32 gradients to 2e-5 (MsMCLR fixture, shared/parity SPEC section 9).
    The faster order is the default for training and inference; the parity path
    (:func:`skeletonzoo.pretrain.reference.method_from_reference`) uses this one.
    """
    for child in module.modules():
        if isinstance(child, GraphConv):
            child.original_order = enabled
    return module


TEMPORAL_CONV_ALGORITHMS = ("direct", "spectral")


def set_temporal_conv(module: nn.Module, algorithm: str) -> nn.Module:
    """Set how every :class:`TemporalConv` in ``module`` computes its convolution; returns it.

    ``"direct"``: ``nn.Conv2d`` (oneDNN on CPU), what every published run used. ``"spectral"``:
    in the frequency domain where that pays (:meth:`TemporalConv.uses_spectral`; elsewhere
    direct): the same function, rounding differently (float32: a few 1e-6 relative), about 3x
    faster for the last block's 256-channel convolution on a CPU core. Not part of the weights.
    """
    if algorithm not in TEMPORAL_CONV_ALGORITHMS:
        raise ValueError(
            f"unknown temporal convolution algorithm {algorithm!r}; choose one of {TEMPORAL_CONV_ALGORITHMS}"
        )
    for child in module.modules():
        if isinstance(child, TemporalConv):
            child.algorithm = algorithm
    return module


def keep_mask(like: torch.Tensor, keep_prob: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A dropout keep mask: independent 0/1 entries, each 1 with probability ``keep_prob``.

    Shaped, typed and laid out in memory like ``like``. When ``256 * keep_prob`` is an integer
    (the papers' p = 0.5, and 0.25, 0.75, ...) the mask is ``byte < 256 * keep_prob`` on
    uniform random bytes, which is exactly Bernoulli(``keep_prob``) and much cheaper on CPU:
    one 64-bit draw gives 8 entries, where ``torch.rand`` and ``bernoulli_`` spend at least
    one 32-bit draw per entry (with :func:`dropout_add`, 4.8x faster than ``nn.Dropout`` plus
    the residual addition on the block-9 map: benchmarks/bench_training_ops.py). Otherwise it
    is ``u < keep_prob`` with ``u ~ U[0, 1)`` in float32 (keep probability exact to 2^-24, like
    ``torch.rand``).

    Args:
        like: Tensor whose shape, dtype, device and strides the mask takes.
        keep_prob: Probability of a 1.
        generator: Random source (the device's default generator when ``None``, as
            ``nn.Dropout``).
    """
    mask = torch.empty_like(like)  # dense, with like's strides (channels_last stays so)
    if keep_prob >= 1.0 or keep_prob <= 0.0:
        return mask.fill_(float(keep_prob >= 1.0))
    # The entries are i.i.d., so the mask's memory is filled in storage order through a flat
    # view: comparisons into a channels_last-strided output take a 15x slower path.
    n = mask.numel()
    flat = mask.as_strided((n,), (1,))
    threshold = keep_prob * 256  # in (0, 256): a uint8 comparison when it is an integer
    if threshold == int(threshold):
        # 64-bit words over the full int64 range, so that each of their 8 bytes is uniform
        words = torch.empty((n + 7) // 8, dtype=torch.int64, device=like.device)
        words.random_(-(2**63), None, generator=generator)
        torch.lt(words.view(torch.uint8)[:n], int(threshold), out=flat)
    else:
        uniform = torch.empty(n, dtype=torch.float32, device=like.device).uniform_(generator=generator)
        torch.lt(uniform, keep_prob, out=flat)
    return mask


def dropout_add(
    x: torch.Tensor,
    residual: torch.Tensor | None,
    p: float,
    training: bool,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``dropout(x, p) + residual`` in one pass (``residual`` may be ``None``).

    Dropout as ``nn.Dropout``: in training, each entry is zeroed with probability ``p`` and the
    kept ones are scaled by ``1 / (1 - p)``; the identity otherwise or when ``p == 0``. On CPU
    the mask comes from :func:`keep_mask`; on other devices from ``F.dropout``, whose fused
    kernel is already cheap there (and ``generator`` is not used).
    """
    if not training or p == 0.0:
        return x if residual is None else x + residual
    if p == 1.0:
        dropped = torch.zeros_like(x)
        return dropped if residual is None else dropped + residual
    if x.device.type != "cpu":
        dropped = F.dropout(x, p, training=True)
        return dropped if residual is None else dropped + residual
    mask = keep_mask(x, 1.0 - p, generator)
    if residual is None:
        return (x * mask).mul_(1.0 / (1.0 - p))
    # residual + x * mask / (1 - p)
    return torch.addcmul(residual, x, mask, value=1.0 / (1.0 - p))


#: Temporal convolutions with fewer channels than this keep the direct algorithm under
#: ``algorithm = "spectral"``: at 16 channels the transforms cost more than they save (forward +
#: backward at the papers' shapes on one AMD EPYC Zen 4 core: 0.80x at 16 channels, 1.27x at 32,
#: 1.74x at 64, 2.91x at 256; strided ones 0.71-1.07x; benchmarks/bench_training_ops.py,
#: docs/benchmarks.md).
SPECTRAL_MIN_CHANNELS = 32
#: ... and so do convolutions over more frames than this: the transforms are dense ``(T + 4) x T``
#: matrices whose cost grows with ``T**2`` (forward at 64 channels, one thread, a review's quick
#: measurement on a busy machine: faster than direct at 13-50 frames, the papers' inputs; 1.1x
#: direct's time at 150 frames, 1.8x at 300).
SPECTRAL_MAX_FRAMES = 64


class TemporalConv(nn.Module):
    """BN -> ReLU -> (kernel x 1) temporal conv with stride -> BN -> Dropout.

    ``algorithm`` (:func:`set_temporal_conv`) picks how the convolution is computed:
    ``"direct"`` (``nn.Conv2d``) or ``"spectral"`` (:func:`~.spectral_conv.spectral_temporal_conv`,
    the same function to float rounding with fewer products), which applies
    where it was measured to pay (:meth:`uses_spectral`); the weights are the same either way.
    """

    def __init__(self, channels: int, kernel_size: int, stride: int, dropout: float) -> None:
        super().__init__()
        self.norm_in = nn.BatchNorm2d(channels)
        self.conv = nn.Conv2d(
            channels, channels, (kernel_size, 1), stride=(stride, 1), padding=(kernel_size // 2, 0)
        )
        self.norm_out = nn.BatchNorm2d(channels)
        self.dropout = nn.Dropout(dropout)  # holds p; applied by dropout_add
        self.algorithm: str = "direct"

    def uses_spectral(self, x: torch.Tensor) -> bool:
        """Whether this call computes the convolution spectrally: ``algorithm == "spectral"``,
        float32 (or float64) on the CPU outside autocast (bf16 blocks keep oneDNN's bf16
        kernels; GPUs have cuDNN's own algorithms), stride 1, at least
        :data:`SPECTRAL_MIN_CHANNELS` channels and at most :data:`SPECTRAL_MAX_FRAMES` frames."""
        return (
            self.algorithm == "spectral"
            and x.device.type == "cpu"
            and x.dtype in (torch.float32, torch.float64)
            and not torch.is_autocast_enabled("cpu")
            and self.conv.stride[0] == 1
            and self.conv.in_channels >= SPECTRAL_MIN_CHANNELS
            and x.shape[2] <= SPECTRAL_MAX_FRAMES
        )

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        """``(R, C, T, V) -> (R, C, ceil(T / stride), V)``, plus ``residual`` when given.

        The ReLU runs in place on the BN output (BN's backward needs its input, not its
        output), and dropout and the residual addition are one pass (:func:`dropout_add`).
        """
        h = F.relu_(self.norm_in(x))
        if self.uses_spectral(h):
            h = spectral_temporal_conv(h, self.conv.weight, self.conv.bias, self.conv.stride[0])
        else:
            h = self.conv(h)
        h = self.norm_out(h)
        return dropout_add(h, residual, self.dropout.p, self.dropout.training)


# Below this many input channels, ResidualProjection avoids oneDNN's strided 1x1 convolution:
# one vector register of float32 (16 with AVX-512, 8 with AVX2), where its kernels crash.
_MIN_STRIDED_1X1_CHANNELS = 16


class ResidualProjection(nn.Module):
    """1x1 conv with temporal stride, then BN: the residual of blocks that change shape."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=(stride, 1))
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(R, C_in, T, V) -> (R, C_out, ceil(T / stride), V)``."""
        stride = self.conv.stride[0]
        if x.device.type == "cpu" and stride > 1 and x.shape[1] < _MIN_STRIDED_1X1_CHANNELS:
            # A 1x1 convolution with temporal stride s reads every s-th frame: take those frames
            # first and convolve with stride 1 (the same products). Why: oneDNN's kernel for the
            # weight gradient of a strided 1x1 convolution with fewer input channels than a vector
            # register holds, on a channels_last input, hangs or crashes the process (torch 2.13:
            # 2-7 channels on an AVX2 AMD EPYC Zen 3, 2-15 on an AVX-512 Zen 4; tests/test_models.py).
            # The papers' widths (64, 128 input channels) never take this path.
            return self.norm(F.conv2d(x[:, :, ::stride], self.conv.weight, self.conv.bias))
        return self.norm(self.conv(x))


class STGCNBlock(nn.Module):
    """One ST-GCN unit: ``ReLU(tcn(gcn(x, A)) + residual(x))``.

    ``residual`` is ``"none"`` (block 0), ``"identity"`` (same shape) or ``"projection"``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_partitions: int,
        stride: int,
        residual: str,
        dropout: float,
        temporal_kernel_size: int = 9,
    ) -> None:
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, num_partitions)
        self.tcn = TemporalConv(out_channels, temporal_kernel_size, stride, dropout)
        self.residual_kind = residual
        self.residual: ResidualProjection | None = None
        if residual == "projection":
            self.residual = ResidualProjection(in_channels, out_channels, stride)
        elif residual not in ("none", "identity"):
            raise ValueError(f"unknown residual kind {residual!r}")

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        """``(R, C_in, T, V) -> (R, C_out, T', V)``, ``channels_last``."""
        residual: torch.Tensor | None = None
        if self.residual is not None:
            residual = self.residual(x)
        elif self.residual_kind == "identity":
            residual = x
        # in place: the sum is a fresh tensor that no backward needs
        return F.relu_(self.tcn(self.gcn(x, adjacency), residual))


class SkeletonEncoder(nn.Module):
    """ST-GCN encoder: ``(N, C, T, V, M)`` skeletons -> ``(N, num_features)`` representation.

    Args:
        config: Architecture; keyword arguments override or replace it
            (``SkeletonEncoder(hidden_channels=64)``).

    Attributes:
        config: The validated :class:`EncoderConfig`.
        layout: The :class:`~skeletonzoo.skeleton.Layout` of the joint axis.
        num_features: Size of the pooled representation (``hidden_dim``).
        A: Buffer ``(K, V, V)``, the realised adjacency partitions (saved with the weights,
            because edge-cut graphs are random).
    """

    A: torch.Tensor  # registered as a buffer in __init__

    def __init__(self, config: EncoderConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is None:
            config = EncoderConfig(**overrides)
        elif overrides:
            config = EncoderConfig(**{**config.model_dump(), **overrides})
        self.config = config
        self.layout: Layout = get_layout(config.layout)
        self.num_features = config.hidden_dim
        self.in_channels = config.in_channels
        self.num_joints = self.layout.num_joints

        adjacency = build_adjacency(
            self.layout, config.graph_strategy, config.max_hop, removed=config.removed_edges
        )
        self.register_buffer("A", torch.tensor(adjacency, dtype=torch.float32))
        k = self.A.shape[0]

        self.data_bn = nn.BatchNorm1d(config.in_channels * self.num_joints)
        blocks = []
        for index, (c_in, c_out, stride) in enumerate(config.channel_plan()):
            if index == 0:
                residual = "none"
            elif c_in == c_out and stride == 1:
                residual = "identity"
            else:
                residual = "projection"
            blocks.append(
                STGCNBlock(
                    c_in,
                    c_out,
                    k,
                    stride,
                    residual,
                    # PARITY: the original passes dropout to every block but the first.
                    dropout=0.0 if index == 0 else config.dropout,
                    temporal_kernel_size=config.temporal_kernel_size,
                )
            )
        self.blocks = nn.ModuleList(blocks)
        self.edge_importance: nn.ParameterList | None = None
        if config.edge_importance:
            self.edge_importance = nn.ParameterList(
                [nn.Parameter(torch.ones_like(self.A)) for _ in self.blocks]
            )
        self._fused: FusedEncoder | None = None  # built lazily by models._inference
        #: Precision of the ten blocks in :meth:`forward_maps` (``torch.bfloat16``: mixed precision
        #: through ``torch.autocast``; ``None``: float32). The maps come back float32 either way,
        #: so heads, attention and losses built on them stay float32. Not part of the weights.
        self.compute_dtype: torch.dtype | None = None

    # ------------------------------------------------------------------------------------
    def check_input(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` unless ``x`` is ``(N, in_channels, T, num_joints, M)``."""
        if x.dim() != 5:
            raise ValueError(
                f"expected a 5-D batch (N, C, T, V, M), got shape {tuple(x.shape)}; "
                "add a batch axis with x[None] for one sample"
            )
        _, c, _, v, _ = x.shape
        if c != self.in_channels or v != self.num_joints:
            raise ValueError(
                f"input has C={c}, V={v} but the encoder expects C={self.in_channels} and "
                f"layout {self.layout.name!r} (V={self.num_joints})"
            )

    def adjacency(self, block: int) -> torch.Tensor:
        """``A * edge_importance[block]``: the ``(K, V, V)`` graph block ``block`` uses."""
        if self.edge_importance is None:
            return self.A
        return self.A * self.edge_importance[block]

    def normalize_input(self, x: torch.Tensor) -> torch.Tensor:
        """data_bn: ``(N, C, T, V, M) -> (N*M, C, T, V)`` (``channels_last``), rows ``n*M + m``.

        BatchNorm over the joint-major channels ``v*C + c`` with statistics over every
        (sample, person, frame), as the original's ``(N*M, V*C, T)`` BatchNorm1d; here the input
        is laid out ``(N*M*T, V*C)``, which holds the same values per channel and is already
        the ``channels_last`` order of the blocks: one copy instead of two.
        """
        n, c, t, v, m = x.shape
        # (N, C, T, V, M) -> (N, M, T, V, C) -> (N*M*T, V*C)
        rows = self.data_bn(x.permute(0, 4, 2, 3, 1).reshape(n * m * t, v * c))
        # (N*M*T, V*C) -> (N*M, T, V, C) -> (N*M, C, T, V): a view with channels_last strides
        return rows.view(n * m, t, v, c).permute(0, 3, 1, 2)

    def forward_maps(self, x: torch.Tensor) -> torch.Tensor:
        """Feature map of the last block.

        Args:
            x: ``(N, C, T, V, M)``.

        Returns:
            ``(N*M, hidden_dim, T', V)`` with ``T' = ceil(ceil(T/2)/2)``; persons folded into
            the batch as rows ``n*M + m``; ``channels_last`` memory format.
        """
        self.check_input(x)
        if self.compute_dtype is not None and self.compute_dtype != torch.float32:
            with torch.autocast(x.device.type, dtype=self.compute_dtype):
                return self._blocks(x).float()
        return self._blocks(x)

    def _blocks(self, x: torch.Tensor) -> torch.Tensor:
        h = self.normalize_input(x)
        for index, block in enumerate(self.blocks):
            h = block(h, self.adjacency(index))
        return h

    @staticmethod
    def pool(maps: torch.Tensor, num_persons: int) -> torch.Tensor:
        """Mean over (T, V), then over persons: ``(N*M, C, T, V) -> (N, C)``.

        Empty (zero-padded) persons are averaged in, as in the original code. Half-precision
        maps (autocast) are averaged into float32.
        """
        wide = torch.float32 if maps.dtype in (torch.float16, torch.bfloat16) else None
        pooled = maps.mean(dim=(2, 3), dtype=wide)
        # PARITY: the mean over persons counts the zero-padded ones too (SPEC §10.2)
        return pooled.view(-1, num_persons, pooled.shape[1]).mean(dim=1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled representation ``(N, C, T, V, M) -> (N, num_features)``.

        In eval mode with gradients disabled (``torch.inference_mode`` or ``torch.no_grad``)
        this runs the fused inference path, which skips all-zero (padded) persons and equals
        the plain path to float32 rounding.
        """
        if not self.training and not torch.is_grad_enabled():
            from ._inference import fused_forward_features

            return fused_forward_features(self, x)
        return self.pool(self.forward_maps(x), x.shape[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`forward_features`."""
        return self.forward_features(x)

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"layout={c.layout}, in_channels={c.in_channels}, "
            f"hidden_channels={c.hidden_channels}, hidden_dim={c.hidden_dim}"
        )
