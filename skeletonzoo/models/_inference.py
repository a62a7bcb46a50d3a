"""Fused eval-mode forward of :class:`~skeletonzoo.models.stgcn.SkeletonEncoder`.

Same numbers as the plain path (to float32 rounding), less work:

* **BatchNorm folded** into the neighbouring linear maps. ``tcn.norm_out`` and the residual BN
  fold into their convolutions (standard conv-BN folding). ``tcn.norm_in`` follows the graph
  convolution, which is linear per output channel, so its scale folds into the 1x1 weights and
  its shift plus the conv bias propagated through ``A`` become one ``(C, V)`` bias.
  ``data_bn`` becomes one per-(channel, joint) affine applied on the input layout directly.
* **Cheaper contraction order**: the graph aggregation runs on the narrower side of each
  block's 1x1 convolution (before it when ``C_in < C_out``).
* **Padded persons computed once**: an all-zero person's features depend only on the weights
  and ``T``, so they are computed once per set of weights and reused; only real persons go
  through the network. The cache is keyed by every parameter's and buffer's storage and
  in-place version counter, so any change to the weights (optimiser step, ``load_state_dict``,
  ``.to()``) invalidates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .stgcn import SkeletonEncoder, STGCNBlock

__all__ = ["FusedEncoder", "fused_forward_features"]

ROW_CHUNK = 16


def _bn_affine(bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode BN as ``scale * x + shift`` (per channel)."""
    assert bn.running_mean is not None and bn.running_var is not None
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -bn.running_mean * scale
    if bn.bias is not None:
        shift = shift + bn.bias
    return scale, shift


@dataclass
class _FusedBlock:
    aggregate_first: bool
    gcn_weight: torch.Tensor  # conv-first: (K*C_out, C_in, 1, 1); aggregate-first: (C_out, K*C_in, 1, 1)
    gcn_bias: torch.Tensor  # (1, C_out, 1, V)
    adjacency: torch.Tensor  # (K, V, V), edge importance applied
    tcn_weight: torch.Tensor  # (C_out, C_out, kt, 1), norm_out folded
    tcn_bias: torch.Tensor
    stride: int
    padding: int
    residual: str  # "none" | "identity" | "projection"
    res_weight: torch.Tensor | None = None
    res_bias: torch.Tensor | None = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        r, c_in, t, v = x.shape
        k = self.adjacency.shape[0]
        if self.aggregate_first:
            # (R, C_in, T, V) @ (V, K*V) -> (R, C_in, T, K, V) -> (R, K*C_in, T, V)
            z = torch.matmul(x, self.adjacency.permute(1, 0, 2).reshape(v, k * v))
            z = z.view(r, c_in, t, k, v).permute(0, 3, 1, 2, 4).reshape(r, k * c_in, t, v)
            y = F.conv2d(z, self.gcn_weight)
        else:
            g = F.conv2d(x, self.gcn_weight)
            c_out = g.shape[1] // k
            # (R, K*C, T, V) -> (R, C, T, K*V) @ (K*V, V)
            g = g.view(r, k, c_out, t, v).permute(0, 2, 3, 1, 4).reshape(r, c_out, t, k * v)
            y = torch.matmul(g, self.adjacency.reshape(k * v, v))
        y = F.relu_(y + self.gcn_bias)
        y = F.conv2d(y, self.tcn_weight, self.tcn_bias, stride=(self.stride, 1), padding=(self.padding, 0))
        if self.residual == "identity":
            y = y + x
        elif self.residual == "projection":
            assert self.res_weight is not None  # from_encoder sets it for projection blocks
            y = y + F.conv2d(x, self.res_weight, self.res_bias, stride=(self.stride, 1))
        return F.relu_(y)


@dataclass
class FusedEncoder:
    """Folded parameters of one encoder state plus the padded-person cache."""

    key: tuple
    input_scale: torch.Tensor  # (1, C, 1, V, 1)
    input_shift: torch.Tensor
    blocks: list[_FusedBlock]
    padded_features: dict[int, torch.Tensor] = field(default_factory=dict)
    folded_from: list[torch.Tensor] = field(default_factory=list)  # the weights' values when folded

    def matches(self, tensors: list[torch.Tensor]) -> bool:
        """Whether ``tensors`` still hold the values this was folded from.

        Needed besides the version key: an in-place change through ``.data`` (``p.data.normal_()``,
        the research repos' ``weights_init`` style) does not bump the parameter's version.
        Comparing costs about 2 ms for the default encoder on one CPU thread (5 % of one
        sample's forward pass, 0.1 % of a batch of 64's), against 26 ms to fold again.
        """
        return len(tensors) == len(self.folded_from) and all(
            torch.equal(a, b) for a, b in zip(tensors, self.folded_from)
        )

    @classmethod
    def from_encoder(cls, encoder: SkeletonEncoder, key: tuple) -> FusedEncoder:
        c, v = encoder.in_channels, encoder.num_joints
        scale, shift = _bn_affine(encoder.data_bn)
        # BN channel index is v*C + c (joint-major) -> (C, V) for the (N, C, T, V, M) input
        input_scale = scale.view(v, c).t().reshape(1, c, 1, v, 1).contiguous()
        input_shift = shift.view(v, c).t().reshape(1, c, 1, v, 1).contiguous()
        blocks = []
        for index, block in enumerate(encoder.blocks):
            assert isinstance(block, STGCNBlock)  # nn.ModuleList yields plain Modules to the type checker
            adjacency = encoder.adjacency(index).detach().clone()
            k = adjacency.shape[0]
            conv = block.gcn.conv
            c_out = block.gcn.out_channels
            c_in = conv.in_channels
            s1, h1 = _bn_affine(block.tcn.norm_in)
            w = conv.weight.view(k, c_out, c_in) * s1.view(1, c_out, 1)
            b = conv.bias.view(k, c_out) if conv.bias is not None else torch.zeros(k, c_out)
            # bias through the graph: sum_k b[k, c] * sum_v A[k, v, w]
            gcn_bias = torch.einsum("kc,kw->cw", b, adjacency.sum(1)) * s1[:, None] + h1[:, None]
            aggregate_first = c_in < c_out
            if aggregate_first:
                gcn_weight = w.permute(1, 0, 2).reshape(c_out, k * c_in, 1, 1)
            else:
                gcn_weight = w.reshape(k * c_out, c_in, 1, 1)
            s2, h2 = _bn_affine(block.tcn.norm_out)
            tconv = block.tcn.conv
            assert isinstance(tconv.padding, tuple)  # TemporalConv pads by sizes, never "same"/"valid"
            tcn_weight = tconv.weight * s2.view(-1, 1, 1, 1)
            tcn_bias = (tconv.bias if tconv.bias is not None else 0) * s2 + h2
            fused = _FusedBlock(
                aggregate_first=aggregate_first,
                gcn_weight=gcn_weight.contiguous(),
                gcn_bias=gcn_bias.view(1, c_out, 1, -1).contiguous(),
                adjacency=adjacency,
                tcn_weight=tcn_weight.contiguous(),
                tcn_bias=tcn_bias.contiguous(),
                stride=tconv.stride[0],
                padding=tconv.padding[0],
                residual=block.residual_kind,
            )
            if block.residual is not None:
                s3, h3 = _bn_affine(block.residual.norm)
                rconv = block.residual.conv
                fused.res_weight = (rconv.weight * s3.view(-1, 1, 1, 1)).contiguous()
                fused.res_bias = ((rconv.bias if rconv.bias is not None else 0) * s3 + h3).contiguous()
            blocks.append(fused)
        return cls(key, input_scale, input_shift, blocks)

    def rows(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled features of normalised rows: ``(R, C, T, V) -> (R, num_features)``.

        Rows go through the network in chunks of ``ROW_CHUNK`` so that a block's activations
        stay in the CPU cache (on a 2-core machine, 192 rows in chunks of 16 ran 2.3x faster
        than all at once; see docs/benchmarks.md).
        """
        outputs = []
        for chunk in x.split(ROW_CHUNK):
            for block in self.blocks:
                chunk = block(chunk)
            outputs.append(chunk.mean(dim=(2, 3)))
        return torch.cat(outputs)

    def padded(self, num_frames: int) -> torch.Tensor:
        """Features ``(num_features,)`` of an all-zero person of ``num_frames`` frames."""
        cached = self.padded_features.get(num_frames)
        if cached is None:
            # data_bn of zeros is its shift: (1, C, 1, V, 1) -> (1, C, T, V)
            zeros = self.input_shift[..., 0].expand(-1, -1, num_frames, -1).contiguous()
            cached = self.rows(zeros)[0]
            self.padded_features[num_frames] = cached
        return cached


def _state_tensors(encoder: SkeletonEncoder) -> list[torch.Tensor]:
    return [t.detach() for t in list(encoder.parameters()) + list(encoder.buffers())]


def _state_key(tensors: list[torch.Tensor]) -> tuple | None:
    """Identity and in-place version of every weight; ``None`` when versions are not tracked."""
    if any(t.is_inference() for t in tensors):
        return None  # weights created under inference_mode have no version counter
    return tuple((t.data_ptr(), t._version, t.dtype, t.device) for t in tensors)


def fused_encoder(encoder: SkeletonEncoder) -> FusedEncoder:
    """The encoder's folded parameters, rebuilt whenever any weight changed."""
    tensors = _state_tensors(encoder)
    key = _state_key(tensors)
    fused: FusedEncoder | None = encoder._fused
    if fused is None or key is None or fused.key != key or not fused.matches(tensors):
        with torch.no_grad():
            fused = FusedEncoder.from_encoder(encoder, key or ())
        if key is not None:
            fused.folded_from = [t.clone() for t in tensors]
        encoder._fused = fused if key is not None else None
    return fused


def fused_forward_features(encoder: SkeletonEncoder, x: torch.Tensor) -> torch.Tensor:
    """Eval-mode ``forward_features`` without running the network on padded persons.

    Args:
        encoder: An encoder in eval mode.
        x: ``(N, C, T, V, M)``.

    Returns:
        ``(N, num_features)``, equal to the plain path to float32 rounding.
    """
    encoder.check_input(x)
    fused = fused_encoder(encoder)
    n, c, t, v, m = x.shape
    # (N, C, T, V, M) -> (N*M, C, T, V), rows n*M + m
    persons = x.permute(0, 4, 1, 2, 3).reshape(n * m, c, t, v)
    real = persons.flatten(1).ne(0).any(dim=1)
    out = fused.padded(t).expand(n * m, -1).clone()
    if bool(real.any()):
        # data_bn as one affine on the (C, T, V) rows
        rows = persons[real] * fused.input_scale[..., 0] + fused.input_shift[..., 0]
        out[real] = fused.rows(rows)
    return out.view(n, m, -1).mean(dim=1)
