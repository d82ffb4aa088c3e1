from __future__ import annotations

import pytest

from engines import OutputFolderError, check_outputs


def test_new_or_empty_folders_are_accepted(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "pictures").mkdir()  # folders without files hold no results
    check_outputs([str(tmp_path / "new"), str(tmp_path / "empty")], inputs=[str(tmp_path / "data")])


def test_folder_with_results_is_refused_unless_overwrite_or_resume(tmp_path):
    out = tmp_path / "eval"
    (out / "pictures").mkdir(parents=True)
    for name in ("metrics.csv", "val_mean_dice_raw.csv", "val_mean_iou_raw.csv", "pictures/evaluation_epoch001.png"):
        (out / name).write_text("earlier result")
    with pytest.raises(OutputFolderError, match=r"eval already holds results \(4 file\(s\): metrics.csv, pictures/"):
        check_outputs(str(out))
    with pytest.raises(OutputFolderError, match="--overwrite true"):
        check_outputs([str(tmp_path / "fresh"), str(out)], overwrite="false")  # the CLI's string
    check_outputs(str(out), overwrite="true")
    check_outputs(str(out), resume=True)
    assert (out / "metrics.csv").read_text() == "earlier result", "the check itself deletes nothing"


@pytest.mark.parametrize("where", ["data", "data/imagesTs/pred"])
def test_outputs_never_go_among_the_inputs(tmp_path, where):
    data = tmp_path / "data"
    (data / "imagesTs").mkdir(parents=True)
    image = data / "imagesTs" / "case.nii.gz"
    image.write_bytes(b"input")
    for inputs in ([str(data)], [str(image)]):  # a data set folder, or the file to segment
        if where == "data" and inputs == [str(image)]:
            continue  # the data set's root is not the image's folder
        with pytest.raises(OutputFolderError, match="inside the input folder"):
            check_outputs(str(tmp_path / where), inputs=inputs, overwrite=True)
    check_outputs(str(tmp_path / "pred"), inputs=[str(image)])  # beside the data set is fine
    assert image.read_bytes() == b"input"


def test_flag_values_are_checked(tmp_path):
    with pytest.raises(ValueError, match="overwrite must be true or false"):
        check_outputs(str(tmp_path), overwrite="perhaps")
