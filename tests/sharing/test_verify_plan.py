"""A packaged generic-path bundle ships its plan as models/plan.json: the weights check accepts that one JSON file
(data, read with json.load) and still refuses any other non-checkpoint file in models/."""

from __future__ import annotations

import torch

from sharing.verify import VerifyResult, _check_weights


def test_plan_json_is_accepted_other_files_are_not(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    torch.save({"w": torch.zeros(2)}, models / "model.pt")
    (models / "plan.json").write_text('{"patch_size": [16, 16]}')
    result = VerifyResult(tmp_path)
    _check_weights(tmp_path, result)
    assert not result.errors and "plan: models/plan.json is JSON" in result.passed

    (models / "plan.json").write_text("{not json")
    (models / "notes.json").write_text("{}")
    result = VerifyResult(tmp_path)
    _check_weights(tmp_path, result)
    assert any("not a JSON plan" in e for e in result.errors)
    assert any("notes.json: not a checkpoint" in e for e in result.errors)
