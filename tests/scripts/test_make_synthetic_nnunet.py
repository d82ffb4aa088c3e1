"""scripts/make_synthetic_nnunet.py writes the chosen twins, each a clean nnU-Net v2 data set."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from formats import FORMATS

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def test_writes_clean_twins(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("make_synthetic_nnunet", SCRIPTS / "make_synthetic_nnunet.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    argv = ["--output_dir", str(tmp_path), "--kind", "ct", "png2d", "--num_training", "2", "--num_test", "1",
            "--spatial_size", "12", "10", "6"]
    assert module.main(argv) == 0
    folders = capsys.readouterr().out.split()
    assert [Path(f).name for f in folders] == ["Dataset902_SynthCT", "Dataset903_Synth2DPNG"]
    ct, png = (FORMATS.open(f) for f in folders)
    assert len(ct.training) == 2 and len(ct.test) == 1 and png.spatial_dims == 2
    case = FORMATS.get("nnunet_v2").load_transforms(ct)[0](ct.training[0])
    assert tuple(case["image"].shape) == (1, 12, 10, 6)
    assert tuple(FORMATS.get("nnunet_v2").load_transforms(png)[0](png.training[0])["image"].shape) == (2, 48, 48)
