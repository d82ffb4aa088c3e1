from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from monai.data import MetaTensor

from engines.tiff_stack import PageStackWriter, stack_stem


def _item(source: str, page: int, prob: torch.Tensor) -> dict:
    image = MetaTensor(torch.zeros(1, 4, 5), meta={"filename_or_obj": source, "page": page})
    return {"image": image, "prob": prob, "pred": (prob > 0.5).float()}


def test_pages_in_page_order_per_stack_with_the_label_format(tmp_path):
    writer = PageStackWriter(output_dir=tmp_path / "out")
    probs = {p: torch.rand(1, 4, 5) for p in (7, 2, 5)}
    for page, prob in probs.items():  # out of order, a subset of the stack's pages
        writer.add(_item("/data/test-volume.tif", page, prob))
    writer.add(_item("/data/other.nii.gz", 0, torch.full((1, 4, 5), 0.9)))
    writer._write()
    assert sorted(p.name for p in writer.written) == ["other_prob.tif", "other_seg.tif", "test-volume_prob.tif",
                                                      "test-volume_seg.tif"]  # fmt: skip
    prob = tifffile.imread(tmp_path / "out" / "test-volume_prob.tif")
    seg = tifffile.imread(tmp_path / "out" / "test-volume_seg.tif")
    expected = np.stack([probs[p][0].numpy() for p in (2, 5, 7)])
    np.testing.assert_array_equal(prob, expected)
    np.testing.assert_array_equal(seg, np.where(expected > 0.5, 255, 0).astype(np.uint8))
    with tifffile.TiffFile(tmp_path / "out" / "test-volume_seg.tif") as tif:
        assert tif.shaped_metadata[0]["pages"] == [2, 5, 7] and tif.shaped_metadata[0]["source"] == "test-volume.tif"
    assert stack_stem("a/b.NII.GZ") == "b" and stack_stem("x/train-volume.tif") == "train-volume"


def test_bad_items_are_refused_with_what_is_missing(tmp_path):
    writer = PageStackWriter(output_dir=tmp_path)
    item = _item("s.tif", 0, torch.rand(1, 4, 5))
    writer.add(item)
    with pytest.raises(ValueError, match="s.tif: page 0 was inferred twice"):
        writer.add(item)
    with pytest.raises(KeyError, match="'prob'"):
        writer.add({"image": item["image"], "pred": item["pred"]})
    no_page = {**item, "image": MetaTensor(torch.zeros(1, 4, 5), meta={"filename_or_obj": "s.tif"})}
    with pytest.raises(KeyError, match="LoadTiffPaged"):
        writer.add(no_page)
    with pytest.raises(ValueError, match="label_scale"):
        PageStackWriter(output_dir=tmp_path, label_scale=256)
