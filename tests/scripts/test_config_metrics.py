"""scripts/config_metrics.py: the overlay count finds the modules that draw slices, and the tree has one."""

from __future__ import annotations

import scripts.config_metrics as config_metrics


def test_overlay_count_finds_drawing_modules(tmp_path, monkeypatch):
    (tmp_path / "engines").mkdir()
    (tmp_path / "engines" / "draw.py").write_text("def f(ax, x):\n    ax.imshow(x)\n")
    (tmp_path / "engines" / "outline.py").write_text("def g(ax, m):\n    return ax.contour(m, levels=[0.5])\n")
    (tmp_path / "engines" / "bars.py").write_text("def h(ax):\n    ax.bar([0], [1])\n")
    monkeypatch.setattr(config_metrics, "ROOT", tmp_path)
    assert config_metrics.overlay_modules() == ["engines.draw", "engines.outline"]


def test_the_tree_has_one_overlay():
    assert config_metrics.overlay_modules() == ["engines.overlay.figures"]
