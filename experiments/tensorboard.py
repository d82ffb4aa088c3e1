"""Read scalars back from TensorBoard event files (the bundles' training logs)."""

from __future__ import annotations

import os
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import SCALARS, EventAccumulator

__all__ = ["read_scalars"]


def read_scalars(log_dir: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """All scalar series of the event files directly in ``log_dir``, merged across files.

    A bundle writes several event files into one folder (trainer, validator, a resumed run); a step logged twice
    (e.g. an epoch repeated after resuming) keeps the value written last.

    Args:
        log_dir: folder holding ``events.out.tfevents.*`` files.

    Returns:
        ``{tag: [(step, value), ...]}`` sorted by step.

    Raises:
        FileNotFoundError: no event file in ``log_dir`` (the message names the folder).
    """
    files = sorted(Path(log_dir).glob("events.out.tfevents.*"))
    if not files:
        raise FileNotFoundError(f"{log_dir}: no TensorBoard event files (events.out.tfevents.*).")
    latest: dict[str, dict[int, tuple[float, float]]] = {}
    for file in files:
        acc = EventAccumulator(str(file), size_guidance={SCALARS: 0})
        acc.Reload()
        for tag in acc.Tags()[SCALARS]:
            series = latest.setdefault(tag, {})
            for event in acc.Scalars(tag):
                if event.step not in series or event.wall_time >= series[event.step][0]:
                    series[event.step] = (event.wall_time, float(event.value))
    return {tag: [(step, v) for step, (_, v) in sorted(series.items())] for tag, series in latest.items()}
