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

from fw_rl.cores.fast_weights.cost_model import predicted_us
from fw_rl.cores.fast_weights.rnn import MODES, FastWeightsRNN
from fw_rl.cores.fast_weights.spec import FastWeightsSpec

__all__ = ["MODES", "FastWeightsRNN", "FastWeightsSpec", "predicted_us"]
