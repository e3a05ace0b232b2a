"""A sequence classifier around any registered core: input layer, core, linear read-out."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from fw_rl.cores import make_core


class SequenceClassifier(nn.Module):
    """Classify a sequence from the core's last hidden state.

    Args:
        core: registered core name; hidden_size: its size; num_classes: outputs.
        vocabulary: for symbol inputs (``[B, T]`` long): an embedding of this many symbols.
        input_size: for feature inputs (``[B, T, input_size]`` float), instead.
        embedding_size: width of the embedding.
        core_options: extra options for the core.
    """

    def __init__(
        self,
        core: str,
        hidden_size: int,
        num_classes: int,
        vocabulary: int | None = None,
        input_size: int | None = None,
        embedding_size: int = 64,
        core_options: dict | None = None,
    ) -> None:
        super().__init__()
        if (vocabulary is None) == (input_size is None):
            raise ValueError("give exactly one of vocabulary (symbols) or input_size (features)")
        if vocabulary is not None:
            self.inputs = nn.Embedding(vocabulary, embedding_size)
            core_input = embedding_size
        else:
            self.inputs = nn.Identity()
            core_input = input_size
        self.core = make_core(
            core, core_input, hidden_size, batch_first=True, **(core_options or {})
        )
        self.readout = nn.Linear(hidden_size, num_classes)

    def forward(self, x: Tensor | tuple[Tensor, Tensor]) -> Tensor:
        """``[B, T]`` symbols or ``[B, T, F]`` features -> logits ``[B, classes]``.

        ``x`` may be ``(inputs, starts)`` for sequences padded on the left: the core's state
        is reset at each one's ``starts`` (``[B]``), so the padding before it has no effect.
        """
        reset = None
        if isinstance(x, (tuple, list)):
            x, starts = x
            positions = torch.arange(x.shape[1], device=x.device)
            reset = positions[None, :] == starts[:, None]  # [B, T], batch first
        hidden, _ = self.core(self.inputs(x), reset=reset)
        return self.readout(hidden[:, -1])
