"""The fast-weights RNN of Ba, Hinton, Mnih, Leibo and Ionescu (NIPS 2016), in four forms.

For each step (paper eqs. 1-2, with layer normalisation; ``f`` = ReLU)::

    A_t     = lambda * A_{t-1} + eta * h_{t-1} h_{t-1}^T          (eq. 1, A_0 = 0)
    z       = W h_{t-1} + C x_t + b                                 (slow weights)
    h^0     = f(z)                (the paper's; f(LN(z)) with norm_preliminary=True)
    h^{s+1} = f(LN(z + A_t h^s))  for s = 0 .. S-1                  (eq. 2)
    h_t     = h^S

One module each:

========================  =====================================================================
``rnn.py``                :class:`FastWeightsRNN`, the ``nn.Module``: parameters, state, resets,
                          and which form runs a call (``mode``)
``spec.py``               :class:`FastWeightsSpec`, the constants every form reads
``matrix.py``             the matrix form as PyTorch's operations, step by step (any device;
                          the reference the others are tested against)
``kernel.py``             the matrix form as one numba-compiled loop per example, forward and a
                          hand-derived backward (CPU, float)
``attention.py``          the attention form, eq. 3, as one autograd Function with a
                          hand-written backward (no ``H x H`` memory)
``acting.py``             acting without gradients: eq. 1's update and the first read
                          ``A_t h^0`` in one compiled pass
``cost_model.py``         how ``mode="auto"`` picks between the compiled matrix and attention
``warm_up.py``            compiles the numba loops ahead of a run
========================  =====================================================================

To change an equation, change it in every form that computes it: ``matrix.py`` (eqs. 1-2 as
written), ``kernel.py`` (``_forward_loop`` and its derivative ``_backward_loop``),
``attention.py`` (``forward`` and ``backward``) and ``acting.py`` (eq. 1 and the first
read). These tests guard that they agree, outputs and every gradient, resets and carried
memory included: ``tests/cores/test_fast_weights.py`` (``test_matrix_and_attention_agree_*``,
``test_modes_agree_*``, the ``gradcheck`` tests of the compiled and attention Functions,
the hand-computed example that pins the equations) and ``tests/cores/test_cuda.py`` on a
GPU.
"""

from fw_rl.cores.declaration import CoreDeclaration
from fw_rl.cores.fast_weights.cost_model import predicted_us
from fw_rl.cores.fast_weights.rnn import MODES, FastWeightsRNN
from fw_rl.cores.fast_weights.spec import FastWeightsSpec

_VERSION_1 = {
    "inner_steps": 1,
    "decay": 0.95,
    "fast_lr": 0.5,
    "layer_norm": True,
    "norm_preliminary": True,
    "slow_init_scale": 0.05,
    "separate_norms": False,
    "read_before_write": False,
    "fast_gain": False,
}


def _warm_up() -> float:
    from fw_rl.cores.fast_weights.warm_up import warm_up  # python -m runs it as a script too

    return warm_up()


FASTWEIGHTS = CoreDeclaration(
    name="fastweights",
    cls=FastWeightsRNN,
    versions={
        1: _VERSION_1,
        2: {**_VERSION_1, "norm_preliminary": False},  # the paper's h^0 = f(W h + C x)
    },
    history={
        1: "h^0 = f(LN(W h_{t-1} + C x_t)): the layer norm on the preliminary vector too",
        2: "h^0 = f(W h_{t-1} + C x_t), the paper's preliminary vector (no layer norm); "
        "the retrieval diagnosis and the Catch ablation both favoured it (issue #20)",
    },
    summary="fast weights (Ba et al. 2016): a decaying outer-product memory, eqs. 1-2",
    warm_up=_warm_up,
    has_attention=True,
)

__all__ = ["FASTWEIGHTS", "MODES", "FastWeightsRNN", "FastWeightsSpec", "predicted_us"]
