"""The AU-fidelity measure on a real face: a do-nothing generator scores exactly the baseline."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class KeepInput(nn.Module):
    """A 'generator' whose attention is 1 everywhere: the output is the input."""

    def forward(self, face, cond):
        return torch.zeros_like(face), torch.ones_like(face[:, :1])


def test_do_nothing_generator_scores_the_baseline(astronaut):
    from reenact.tracking import FaceTracker
    from reenact.training.evaluate import EVAL_PRESETS, evaluate_generator, format_table
    from reenact.training.prepare import crop_face

    with FaceTracker() as tracker:
        face = tracker.detect(astronaut)
        crop = crop_face(astronaut, face, 128)
        faces = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 127.5 - 1
        scores = evaluate_generator(KeepInput(), faces, tracker, presets=("happy", "surprise"))
    assert [s.name for s in scores] == ["happy", "surprise"] and set(EVAL_PRESETS) >= {"happy", "surprise"}
    for s in scores:
        assert s.detected == 1.0
        assert s.mae == s.mae_input and s.mae_active == s.mae_active_input
        assert s.attention_mean == 1.0 and s.attention_std == 0.0
    happy, surprise = scores
    assert happy.mae_active < surprise.mae_active  # the astronaut smiles; she is not surprised
    assert "| happy |" in format_table(scores)
    assert np.isfinite([s.mae for s in scores]).all()
