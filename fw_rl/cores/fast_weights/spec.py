"""What every form of the fast-weights equations reads: one frozen spec, made once by the
module (:class:`~fw_rl.cores.fast_weights.rnn.FastWeightsRNN`) and handed to each form."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn


@dataclass(frozen=True)
class FastWeightsSpec:
    """The constants of eqs. 1-2.

    Attributes:
        decay: ``lambda``, decay of the fast memory per step (eq. 1).
        fast_lr: ``eta``, the fast learning rate (eq. 1).
        inner_steps: ``S``, iterations of the inner loop (eq. 2).
        norm_preliminary: the layer norm is applied to the preliminary vector ``h^0`` too.
        eps: the layer norm's epsilon.
        read_before_write: step ``t`` reads ``A_{t-1}`` and writes ``h_{t-1}`` after its
            inner loop (a variant, not the paper's eq. 1-2; see ``FastWeightsRNN``).
    """

    decay: float
    fast_lr: float
    inner_steps: int
    norm_preliminary: bool
    eps: float = 1e-5
    read_before_write: bool = False


def norm_parameters(norm: nn.Module) -> tuple[Tensor | None, Tensor | None, float]:
    """``(gain, bias, eps)`` of a layer norm; ``(None, None, 1e-5)`` for ``nn.Identity``
    (no layer norm), as the compiled and attention forms take them."""
    if isinstance(norm, nn.LayerNorm):
        return norm.weight, norm.bias, norm.eps
    return None, None, 1e-5
