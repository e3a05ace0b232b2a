"""The fast-weights RNN module (Ba et al. 2016, section 2): parameters, state and resets,
and which of the forms runs a call (see the package docstring for the forms).

Two exact ways to compute the fast term ``A_t h^s`` (``mode``):

* ``"matrix"`` keeps ``A`` as a ``[B, H, H]`` memory: ``O(H^2)`` per step. On the CPU a
  sequence runs as one numba-compiled loop per example, forward and backward
  (``kernel.py``), which saves ``O(S T B H)`` for backpropagation and recomputes the
  memories. Elsewhere (other devices, ``compiled=False``, no numba) it runs as PyTorch's
  operations per step (``matrix.py``) and autograd stores one ``A`` per step.
* ``"attention"`` uses eq. 3, ``A_t h^s = eta * sum_{tau<t} lambda^(t-1-tau) h_tau
  <h_tau, h^s>``: attention over the past hidden states with no ``H x H`` matrix, ``O(t H)``
  per step (``attention.py``). A fast memory carried in from an earlier call enters as the
  decayed matrix.
* ``"auto"`` picks the faster of the two for the call (``cost_model.py``).

The state is always ``(h [B, H], A [B, H, H])`` so calls in either mode chain exactly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fw_rl.cores.base import RecurrentCore, State
from fw_rl.cores.fast_weights.attention import FastWeightsAttention, step_coefficients
from fw_rl.cores.fast_weights.cost_model import faster_form
from fw_rl.cores.fast_weights.kernel import FastWeightsKernel, kernel_available, scratch_fits
from fw_rl.cores.fast_weights.matrix import run_matrix
from fw_rl.cores.fast_weights.spec import FastWeightsSpec, norm_parameters

MODES = ("auto", "matrix", "attention")


class FastWeightsRNN(RecurrentCore):
    """Fast-weights RNN (Ba et al. 2016, section 2).

    Args:
        input_size: features of ``x``.
        hidden_size: ``H``, units of the hidden state.
        inner_steps: ``S``, iterations of the inner loop (eq. 2); the paper uses 1.
        decay: ``lambda``, decay of the fast memory per step (eq. 1).
        fast_lr: ``eta``, the fast learning rate (eq. 1). 0 gives a layer-normalised ReLU RNN.
        layer_norm: normalise over the hidden units (per example) with learned gain and bias.
        norm_preliminary: also apply the layer norm to the preliminary vector ``h^0``
            (False, the paper's ``h^0 = f(W h_{t-1} + C x_t)``, since version 2 of the core;
            see :mod:`fw_rl.cores.identity`).
        mode: ``"matrix"``, ``"attention"`` or ``"auto"`` (see the module docstring).
        compiled: run the matrix form as one numba-compiled loop where it can (CPU, float,
            numba importable); False keeps to PyTorch's operations.
        slow_init_scale: ``W`` starts as this times the identity (Hinton's talk: 0.05).
        batch_first: ``x`` is ``[B, T, input]``.
        separate_norms: ``h^0`` gets a layer norm of its own (gain and bias), not the inner
            loop's (a diagnosis variant; several re-implementations do this).
        read_before_write: step ``t``'s inner loop reads ``A_{t-1}``, and ``h_{t-1}`` is
            written into the memory after it, so the newest state is left out of the read
            (a diagnosis variant, not eq. 1-2: the order of e.g. jxwufan/AssociativeRetrieval).
        fast_gain: the fast term enters eq. 2 times a learned scalar ``g`` that starts at 0,
            ``h^{s+1} = f(LN(z + g A_t h^s))``: the core starts as its slow part alone and
            training chooses how much of the fast memory to read (a variant, not the
            paper's; ``A_t`` is written as eq. 1 says). Since ``A_t`` enters only through
            that read, ``g`` acts as a learned factor on ``eta``.

    The three variants run only in the matrix form (``mode`` "auto" or "matrix"), and
    ``separate_norms`` and ``read_before_write`` only as PyTorch's operations (``fast_gain``
    runs in the compiled loop too); the defaults are the paper's.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        inner_steps: int = 1,
        decay: float = 0.95,
        fast_lr: float = 0.5,
        layer_norm: bool = True,
        norm_preliminary: bool = False,
        mode: str = "auto",
        compiled: bool = True,
        slow_init_scale: float = 0.05,
        batch_first: bool = False,
        separate_norms: bool = False,
        read_before_write: bool = False,
        fast_gain: bool = False,
    ) -> None:
        super().__init__(input_size, hidden_size, batch_first)
        if isinstance(inner_steps, bool) or not isinstance(inner_steps, int) or inner_steps < 0:
            raise ValueError(f"inner_steps must be an int >= 0, got {inner_steps!r}")
        for name, value in (
            ("decay", decay),
            ("fast_lr", fast_lr),
            ("slow_init_scale", slow_init_scale),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}")
        if not 0.0 <= decay <= 1.0:
            raise ValueError(f"decay (lambda) must be in [0, 1], got {decay!r}")
        if fast_lr < 0.0:
            raise ValueError(f"fast_lr (eta) must be >= 0, got {fast_lr!r}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.inner_steps = inner_steps
        self.decay = float(decay)
        self.fast_lr = float(fast_lr)
        self.norm_preliminary = bool(norm_preliminary)
        self.mode = mode
        if not isinstance(compiled, bool):
            raise ValueError(f"compiled must be True or False, got {compiled!r}")
        self.compiled = compiled
        self.slow_init_scale = float(slow_init_scale)
        self.slow = nn.Linear(hidden_size, hidden_size, bias=False)  # W
        self.inp = nn.Linear(input_size, hidden_size)  # C and b
        self.norm = nn.LayerNorm(hidden_size) if layer_norm else nn.Identity()
        if separate_norms and not (layer_norm and norm_preliminary):
            raise ValueError("separate_norms needs layer_norm and norm_preliminary")
        self.norm0 = nn.LayerNorm(hidden_size) if separate_norms else None
        self.read_before_write = bool(read_before_write)
        if not isinstance(fast_gain, bool):
            raise ValueError(f"fast_gain must be true or false, got {fast_gain!r}")
        self.gain = nn.Parameter(torch.zeros(())) if fast_gain else None  # g, from 0
        # variants the compiled loop does not compute; fast_gain it does
        self.uncompiled_variant = bool(separate_norms or read_before_write)
        self.variant = self.uncompiled_variant or fast_gain
        if self.variant and mode == "attention":
            raise ValueError(
                "separate_norms, read_before_write and fast_gain run in the matrix form "
                "only: use mode 'auto' or 'matrix'"
            )
        bound = 1.0 / math.sqrt(hidden_size)
        with torch.no_grad():
            self.slow.weight.copy_(slow_init_scale * torch.eye(hidden_size))
            self.inp.weight.uniform_(-bound, bound)
            self.inp.bias.zero_()

    @property
    def spec(self) -> FastWeightsSpec:
        """The constants every form reads (the layer norm's eps included)."""
        return FastWeightsSpec(
            self.decay, self.fast_lr, self.inner_steps, self.norm_preliminary,
            norm_parameters(self.norm)[2], self.read_before_write,
        )  # fmt: skip

    def state_shapes(self, batch_size: int):
        h = self.hidden_size
        return ((batch_size, h), (batch_size, h, h))

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, inner_steps={self.inner_steps}, "
            f"decay={self.decay}, fast_lr={self.fast_lr}, "
            f"layer_norm={isinstance(self.norm, nn.LayerNorm)}, "
            f"norm_preliminary={self.norm_preliminary}, "
            f"slow_init_scale={self.slow_init_scale}, "
            f"separate_norms={self.norm0 is not None}, "
            f"read_before_write={self.read_before_write}, "
            f"fast_gain={self.gain is not None}, mode={self.mode!r}, "
            f"compiled={self.compiled}"
        )

    def runs_compiled(self, steps: int, like: Tensor | None = None) -> bool:
        """Whether the matrix form runs as the compiled loop for a call of ``steps`` steps
        on input like ``like`` (default: the parameters' device and dtype)."""
        like = self.slow.weight if like is None else like
        return (
            self.compiled
            and not self.uncompiled_variant
            and steps > 1  # one acting step: PyTorch's matrix product and the one-pass update
            and kernel_available(like, self.slow.weight)
            and scratch_fits(steps, self.hidden_size, like.dtype)
        )

    def choose_mode(self, steps: int, batch: int, like: Tensor | None = None) -> str:
        """The mode a call of ``steps`` steps on ``batch`` examples uses (on input like
        ``like``, default the parameters' device and dtype)."""
        if self.mode != "auto":
            return self.mode
        if self.variant:
            return "matrix"
        compiled = steps > 1 and self.runs_compiled(steps, like)
        return faster_form(steps, batch, self.hidden_size, compiled)

    # ---- the equations -------------------------------------------------------------------

    def _forward(
        self, x: Tensor, state: State | None, reset: Tensor | None
    ) -> tuple[Tensor, State]:
        mode = self.choose_mode(x.shape[0], x.shape[1], x)
        out, state, _ = self._run(x, state, reset, mode, False)
        return out, state

    def forward_with_attention(
        self, x: Tensor, state: State | None = None, reset: Tensor | None = None
    ) -> tuple[Tensor, State, Tensor]:
        """Like ``forward``, and also the attention over this call's past steps.

        Returns ``attention`` ``[T, B, T]`` (``[B, T, T]`` batch first): entry ``[t, b, j]``
        is ``eta * lambda^(t-1-j) * <h_j, h^{S-1}_t>`` for ``j < t`` (after any reset), the
        weight the fast memory gives at step ``t`` to the hidden state of step ``j``
        (paper eq. 3); 0 for ``j >= t``. A fast memory carried in by ``state`` acts as well
        but is not attributed to steps.
        """
        if self.variant:
            raise ValueError(
                "forward_with_attention is for the paper's equations, not the variants"
            )
        x, state, reset = self._prepare(x, state, reset)
        out, state, attention = self._run(x, state, reset, "attention", True)
        if self.batch_first:
            out, attention = out.transpose(0, 1), attention.transpose(0, 1)
        return out, state, attention

    def _run(
        self, x: Tensor, state: State | None, reset: Tensor | None, mode: str, want_attention: bool
    ):
        if state is None:  # no memory carried in: the attention form needs no H x H zeros
            h, memory = x.new_zeros(x.shape[1], self.hidden_size), None
        else:
            h, memory = state
        drive = self.inp(x)  # C x_t + b for every step at once: [T, B, H]
        if mode == "matrix" and self.runs_compiled(x.shape[0], x):
            return (*self._run_compiled(drive, h, memory, reset), None)
        if mode == "matrix":
            return (*self._run_matrix(drive, h, memory, reset), None)
        return self._run_attention(drive, h, memory, reset, want_attention)

    def _run_compiled(
        self, drive: Tensor, h: Tensor, memory: Tensor | None, reset: Tensor | None
    ) -> tuple[Tensor, State]:
        gain, bias, _ = norm_parameters(self.norm)
        keep = None if reset is None else (~reset).to(drive.dtype)
        out, final = FastWeightsKernel.apply(
            self.spec, drive, h, self.slow.weight, gain, bias, memory, keep, self.gain
        )
        return out, (out[-1], final)

    def _run_matrix(
        self, drive: Tensor, h: Tensor, memory: Tensor | None, reset: Tensor | None
    ) -> tuple[Tensor, State]:
        return run_matrix(
            self.spec, drive, h, memory, reset, self.slow, self.norm,
            fused=self.compiled and not self.uncompiled_variant, norm0=self.norm0,
            gain=self.gain,
        )  # fmt: skip

    def _run_attention(
        self,
        drive: Tensor,
        h: Tensor,
        memory: Tensor | None,
        reset: Tensor | None,
        want_attention: bool,
    ):
        steps = drive.shape[0]
        keep = None if reset is None else (~reset).to(drive.dtype)
        coef, scale = step_coefficients(steps, self.decay, self.fast_lr, keep, drive)
        gain, bias, _ = norm_parameters(self.norm)
        out, final, weights = FastWeightsAttention.apply(
            self.spec, drive, h, self.slow.weight, gain, bias, memory, keep, coef, scale,
            want_attention,
        )  # fmt: skip
        attention = None
        if want_attention:  # weights on keys 1..T, i.e. on the outputs of steps 0..T-1
            attention = F.pad(weights[:, :, 1:], (0, 1)).transpose(0, 1)
        return out, (out[-1], final), attention
