"""The colours of every segmentation picture: one fixed colour per class and one per kind of error.

All come from the Okabe-Ito palette (Okabe & Ito, "Color Universal Design", 2008), whose colours stay apart for
the common colour-vision deficiencies (deuteranopia, protanopia, tritanopia) and on a grey image. Class ``k``
(1-based; 0 is the background and is not coloured) always has the same colour, in every picture of every run.
"""

from __future__ import annotations

__all__ = ["CLASS_COLOURS", "FN_COLOUR", "FP_COLOUR", "TP_COLOUR", "class_colour"]

#: RGB in [0, 1] of foreground classes 1, 2, ... (repeated after the seventh).
CLASS_COLOURS: tuple[tuple[float, float, float], ...] = (
    (0.902, 0.624, 0.000),  # orange
    (0.337, 0.706, 0.914),  # sky blue
    (0.000, 0.620, 0.451),  # bluish green
    (0.941, 0.894, 0.259),  # yellow
    (0.000, 0.447, 0.698),  # blue
    (0.835, 0.369, 0.000),  # vermillion
    (0.800, 0.475, 0.655),  # reddish purple
)
#: Error picture: predicted where the truth is (the right class).
TP_COLOUR: tuple[float, float, float] = (0.000, 0.620, 0.451)  # bluish green
#: Error picture: predicted where the truth is background or another class.
FP_COLOUR: tuple[float, float, float] = (0.835, 0.369, 0.000)  # vermillion
#: Error picture: truth predicted as background.
FN_COLOUR: tuple[float, float, float] = (0.337, 0.706, 0.914)  # sky blue


def class_colour(index: int) -> tuple[float, float, float]:
    """RGB of foreground class ``index`` (1-based).

    Raises:
        ValueError: ``index`` < 1 (the background has no colour).
    """
    if index < 1:
        raise ValueError(f"class {index} has no colour: the background (0) is not drawn, classes start at 1.")
    return CLASS_COLOURS[(index - 1) % len(CLASS_COLOURS)]
