"""Hand-made 4 x 4 masks shared by the loss and metric tests, with their confusion counts.

Ground truth: the two left columns (8 of 16 pixels). Predictions: perfect (the same), disjoint (the two right
columns: TP 0, FP 8, FN 8, TN 0), half overlap (columns 1-2: TP 4, FP 4, FN 4, TN 4), inside (column 0 only:
TP 4, FP 0, FN 4, TN 8), empty (no foreground).
"""

from __future__ import annotations

import math

import torch

# a logit this large gives sigmoid 1 - 2e-9 (1.0 in float32): soft losses of hard logits equal the binary values,
# and the cross-entropy of a wrong pixel is LOGIT (of a right one ~2e-9)
LOGIT = 20.0
# ... but the probability of a "background" pixel is sigmoid(-LOGIT) = 2.1e-9, not 0: against the 1e-5 smoothing of
# MONAI's Dice / Tversky, 16 such pixels (3.3e-8) still count when the ground truth is empty
P_OFF = 1.0 / (1.0 + math.exp(LOGIT))


def columns(*cols: int) -> torch.Tensor:
    """A (1, 1, 4, 4) float mask with the given columns set."""
    mask = torch.zeros(1, 1, 4, 4)
    for c in cols:
        mask[..., c] = 1.0
    return mask


GT = columns(0, 1)
PERFECT = columns(0, 1)
DISJOINT = columns(2, 3)
HALF = columns(1, 2)
INSIDE = columns(0)
EMPTY = columns()


def logits(mask: torch.Tensor) -> torch.Tensor:
    """Hard logits (+LOGIT on the mask, -LOGIT elsewhere) of a binary mask."""
    return LOGIT * (2.0 * mask - 1.0)


def overlapping_squares(size: tuple[int, int] = (9, 7)):
    """(label, pred) boolean numpy masks of two overlapping squares, for the picture tests: true positives where
    both are set, false negatives where only the label, false positives where only the prediction."""
    import numpy as np

    label = np.zeros(size, bool)
    pred = np.zeros(size, bool)
    label[1:4, 1:4] = True
    pred[2:6, 2:6] = True
    return label, pred
