"""Every task bundle on the real datasets: counts and leakage-freedom of the splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from plantpulse.data.core.errors import InputDataError
from plantpulse.pipelines.train.tasks import build_bundle
from plantpulse.pipelines.train.tasks.splits import assert_disjoint

pytestmark = [pytest.mark.slow, pytest.mark.real_data]


def _groups(splits) -> dict[str, np.ndarray]:
    parts = {"train": splits.train, "val": splits.val, "test": splits.test}
    return {k: np.unique(v.groups) for k, v in parts.items() if v is not None}


def test_cmapss_is_split_by_engine_and_tested_on_nasa_engines(datasets_dir: Path):
    bundle = build_bundle("cmapss", datasets_dir)
    rul = bundle.splits["rul:turbofan"]
    assert_disjoint({"train": np.unique(rul.train.groups), "val": np.unique(rul.val.groups)})
    assert len(rul.test) == 100 + 259 + 100 + 248  # the last window of every test engine
    assert rul.train.targets.max() == 125 and rul.test.targets.max() > 125  # cap for training only
    assert rul.test.targets[0] == 112  # RUL_FD001 line 1
    stats = bundle.normalizers["turbofan"]
    # 24 columns in; those constant within every operating regime are dropped and named
    assert len(stats["channels"]) + len(stats["dropped"]) == 24 and len(stats["mean"]) == len(stats["channels"])


@pytest.mark.parametrize("protocol", ["time", "load", "fault_size"])
def test_cwru_windows_never_overlap_across_splits(datasets_dir: Path, protocol: str):
    bundle = build_bundle("cwru", datasets_dir, protocol=protocol)
    fault = bundle.splits["fault:bearing"]
    covered = {}
    for name, part in (("train", fault.train), ("val", fault.val), ("test", fault.test)):
        spans = part.sensor.spans()
        mask = np.zeros(part.sensor.series.shape[0], dtype=bool)
        for begin, end in spans:
            mask[begin:end] = True
        covered[name] = mask
    assert not (covered["train"] & covered["val"]).any()
    assert not (covered["train"] & covered["test"]).any()
    assert not (covered["val"] & covered["test"]).any()
    if protocol == "load":  # whole fault recordings; the normal one (file 97, 0 hp only) is cut in time
        faults = {k: v[v != 97] for k, v in _groups(fault).items()}
        assert_disjoint(faults | {"val": np.array([], int)})


def test_azure_split_is_by_time_with_the_horizon_respected(datasets_dir: Path):
    bundle = build_bundle("azure_pdm", datasets_dir)
    failure = bundle.splits["failure24h:machine"]
    day = np.timedelta64(24, "h")
    assert failure.train.info["time"].max() + day < np.datetime64("2015-03-01")
    assert failure.val.info["time"].min() >= np.datetime64("2015-03-01")
    assert failure.val.info["time"].max() + day < np.datetime64("2015-03-16")
    assert failure.train.targets.sum() > 0 and failure.test.targets.sum() > 0
    with_text = failure.train.text_present
    assert 0.2 < with_text.mean() < 1.0  # windows without recent events carry no text
    assert all(failure.train.texts[i] == "" for i in np.flatnonzero(~with_text)[:20])


def test_weld_is_grouped_by_video_clip_with_duplicates_removed(datasets_dir: Path):
    from plantpulse.data.datasets.weld import source_id
    from plantpulse.model.weld.splits import clip_key

    bundle = build_bundle("weld_surface_yolo", datasets_dir, image_size=32)
    weld = bundle.splits["defect:weld"]
    assert_disjoint(_groups(weld))
    assert bundle.notes["split"] == "clip" and bundle.notes["duplicates_removed"] >= 0
    assert len(weld.train) + len(weld.val) + len(weld.test) == 1089 - bundle.notes["duplicates_removed"]
    assert weld.train.images.shape[1:] == (3, 32, 32)
    sources = {part: {source_id(f) for f in getattr(weld, part).info["files"]} for part in ("train", "val", "test")}
    clips = {part: {clip_key(s) for s in names} - {None} for part, names in sources.items()}
    assert not sources["train"] & sources["test"] and not sources["train"] & sources["val"]
    assert not clips["train"] & clips["test"] and not clips["train"] & clips["val"]
    assert not clips["val"] & clips["test"]
    # the source-photo split, kept for comparison, lets frames of one clip into train and test
    old = build_bundle("weld_surface_yolo", datasets_dir, image_size=32, split="source").splits["defect:weld"]
    old_clips = {part: {clip_key(source_id(f)) for f in getattr(old, part).info["files"]} - {None}
                 for part in ("train", "test")}
    assert old_clips["train"] & old_clips["test"]
    with pytest.raises(InputDataError, match="choose one of"):
        build_bundle("weld_surface_yolo", datasets_dir, split="video")


@pytest.mark.parametrize(("name", "task"), [("maintnet", "system:aircraft"), ("ai4i2020", "fault:milling")])
def test_text_and_tabular_tasks_are_split_by_group(datasets_dir: Path, name: str, task: str):
    bundle = build_bundle(name, datasets_dir)
    splits = bundle.splits[task]
    assert_disjoint(_groups(splits))
    assert set(np.unique(splits.train.targets)) == set(np.unique(np.concatenate(
        [splits.train.targets, splits.val.targets, splits.test.targets])))


def test_maintnet_pretraining_texts_come_from_training_rows_only(datasets_dir: Path):
    from plantpulse.data.core.errors import ConfigError

    separate = build_bundle("maintnet", datasets_dir)
    paired = build_bundle("maintnet", datasets_dir, pretrain_text="paired")
    train = paired.splits["system:aircraft"].train
    assert train.texts == separate.splits["system:aircraft"].train.texts  # the task is unchanged
    (sep,), (pair,) = separate.pretrain, paired.pretrain
    assert len(sep) == 2 * len(train) and len(pair) == len(train)
    # each paired text starts with its row's problem text and adds that row's repair text
    assert all(text.startswith(f"{problem} | ") for text, problem in zip(pair.texts, train.texts, strict=True))
    assert [t.split(" | ", 1)[1] for t in pair.texts] == list(sep.texts[len(train):])
    held_out = {t for part in ("val", "test") for t in getattr(paired.splits["system:aircraft"], part).texts}
    assert not held_out & {t.split(" | ", 1)[0] for t in pair.texts}
    with pytest.raises(ConfigError, match="separate' or 'paired"):
        build_bundle("maintnet", datasets_dir, pretrain_text="joined")


def test_ai4i_derived_channels_keep_the_split_and_add_the_rule_quantities(datasets_dir: Path):
    from plantpulse.pipelines.train.tasks.ai4i import CHANNELS, DERIVED, derived_features

    plain = build_bundle("ai4i2020", datasets_dir).splits["fault:milling"]
    derived = build_bundle("ai4i2020", datasets_dir, derived=True).splits["fault:milling"]
    assert derived.train.channels == (*CHANNELS, *DERIVED) and derived.train.sensor.shape[2] == len(CHANNELS) + 3
    same, other = _groups(plain), _groups(derived)
    assert same.keys() == other.keys() and all(np.array_equal(same[k], other[k]) for k in same)
    np.testing.assert_allclose(derived.train.sensor[:, :, : len(CHANNELS)], plain.train.sensor, rtol=1e-6)
    # 40 Nm at 1500 rpm is 6283 W; 310 K against 300 K is 10 K; 100 min of wear at 40 Nm is 4000 min·Nm
    row = np.array([[300.0, 310.0, 1500.0, 40.0, 100.0]])
    np.testing.assert_allclose(derived_features(row), [[40 * 1500 * 2 * np.pi / 60, 10.0, 4000.0]], rtol=1e-6)


def test_azure_log_channels_hold_the_maintenance_history_beside_the_telemetry(datasets_dir: Path):
    from plantpulse.data.datasets.azure_pdm import CHANNELS
    from plantpulse.pipelines.train.tasks.azure_features import LOG_FEATURES

    plain = build_bundle("azure_pdm", datasets_dir).splits["failure24h:machine"]
    logs = build_bundle("azure_pdm", datasets_dir, log_channels=True).splits["failure24h:machine"]
    assert logs.train.channels == (*CHANNELS, *LOG_FEATURES)
    rows = np.arange(0, len(plain.test), 97)
    np.testing.assert_array_equal(logs.test.targets, plain.test.targets)
    np.testing.assert_allclose(logs.test.sensor[rows][:, :, : len(CHANNELS)], plain.test.sensor[rows])
    extra = logs.train.sensor[:, :, len(CHANNELS):]
    assert np.all(extra == extra[:, :1, :])  # constant over each window
    # standardised on the training samples, and they vary (not a constant column)
    np.testing.assert_allclose(extra[:, 0, :].mean(0), 0, atol=1e-3)
    assert np.all(extra[:, 0, :].std(0) > 0.5)


def test_azure_structured_features_are_the_baseline_inputs_beside_window_and_text(datasets_dir: Path):
    from plantpulse.data.datasets.azure_pdm import CHANNELS
    from plantpulse.pipelines.train.tasks.azure_features import LOG_FEATURES, telemetry_features

    plain = build_bundle("azure_pdm", datasets_dir).splits["failure24h:machine"]
    bundle = build_bundle("azure_pdm", datasets_dir, structured=True)
    got = bundle.splits["failure24h:machine"]
    assert got.train.feature_names[-len(LOG_FEATURES):] == LOG_FEATURES
    assert len(got.train.feature_names) == 5 * len(CHANNELS) + len(LOG_FEATURES)
    assert got.train.channels == CHANNELS and got.test.texts == plain.test.texts
    np.testing.assert_array_equal(got.test.targets, plain.test.targets)
    # the summaries are those of each sample's own window (standardised on the training samples)
    rows = np.arange(0, len(got.test), 97)
    summaries = telemetry_features(got.test.sensor[rows])
    for col in range(summaries.shape[1]):  # each column is an affine rescale of the window's summary
        assert np.corrcoef(summaries[:, col], got.test.features[rows, col])[0, 1] > 0.9999
    np.testing.assert_allclose(got.train.features.mean(0), 0, atol=1e-3)
    assert not any(d.features is not None for d in bundle.pretrain)
    telemetry = build_bundle("azure_pdm", datasets_dir, structured=True, modalities=("sensor",))
    assert telemetry.splits["failure24h:machine"].test.feature_names == got.test.feature_names[: 5 * len(CHANNELS)]


def test_ai4i_structured_puts_the_row_in_features_instead_of_a_window(datasets_dir: Path):
    window = build_bundle("ai4i2020", datasets_dir, derived=True).splits["fault:milling"]
    table = build_bundle("ai4i2020", datasets_dir, derived=True, structured=True)
    rows = table.splits["fault:milling"]
    assert rows.train.sensor is None and rows.train.feature_names == window.train.channels
    np.testing.assert_array_equal(rows.test.features, window.test.sensor[:, 0, :])
    np.testing.assert_array_equal(rows.test.groups, window.test.groups)
    assert table.pretrain == ()


def test_cwru_with_the_drive_end_only(datasets_dir: Path):
    both = build_bundle("cwru", datasets_dir).splits["fault:bearing"]
    bundle = build_bundle("cwru", datasets_dir, channels=["drive_end_accel"])
    one = bundle.splits["fault:bearing"]
    assert one.train.channels == ("drive_end_accel",) and bundle.normalizers["bearing"]["channels"] == ["drive_end_accel"]
    assert len(one.train) == len(both.train) and len(one.test) == len(both.test)
    first = np.asarray(one.test.sensor[np.arange(3)])
    assert first.shape[-1] == 1
    np.testing.assert_allclose(first[..., 0], np.asarray(both.test.sensor[np.arange(3)])[..., 0], rtol=1e-5)
    with pytest.raises(InputDataError, match="choose one or more of"):
        build_bundle("cwru", datasets_dir, channels=["base_accel"])


def test_cwru_structured_features_are_the_baseline_inputs_of_each_window(datasets_dir: Path):
    from plantpulse.model.vibration_features import vibration_feature_names, vibration_features

    plain = build_bundle("cwru", datasets_dir, protocol="load", test_loads=(1, 2, 3))
    bundle = build_bundle("cwru", datasets_dir, protocol="load", test_loads=(1, 2, 3), structured=True)
    got, base = bundle.splits["fault:bearing"], plain.splits["fault:bearing"]
    assert bundle.notes["structured"] and "structured" not in plain.notes
    assert got.train.feature_names == vibration_feature_names(got.train.channels)
    for part, ref in ((got.train, base.train), (got.val, base.val), (got.test, base.test)):
        assert part.features.shape == (len(ref), len(part.feature_names)) and part.features.dtype == np.float32
        np.testing.assert_array_equal(part.targets, ref.targets)
    np.testing.assert_allclose(got.train.features.mean(0), 0, atol=1e-3)  # standardised on training windows
    rows = np.arange(0, len(got.test), max(1, len(got.test) // 50))
    raw = vibration_features(np.asarray(base.test.sensor[rows]))
    for col in (0, 20, 100, len(got.test.feature_names) - 1):  # the same columns, up to the affine scaling
        assert np.corrcoef(raw[:, col], got.test.features[rows, col])[0, 1] > 0.9999


def test_scoring_recomputes_the_cwru_structured_features_from_raw_windows(datasets_dir: Path, tmp_path: Path):
    """A model trained with ``cwru.structured`` scores raw windows: the predictor rebuilds the
    features the task builder made, so scoring and the evaluation give the same probabilities."""
    from plantpulse.model.moe.channels import vocabulary
    from plantpulse.model.moe.checkpoint import save_checkpoint
    from plantpulse.model.moe.config import preset
    from plantpulse.model.moe.inference import load_moe
    from plantpulse.model.moe.network import PlantPulseModel
    from plantpulse.pipelines.evaluate.moe import outputs
    from plantpulse.pipelines.train.tasks.cwru import ASSET, FAULT_TASK

    bundle = build_bundle("cwru", datasets_dir, protocol="load", test_loads=(1, 2, 3), structured=True)
    test = bundle.splits[FAULT_TASK.name].test
    rows = np.arange(0, len(test), max(1, len(test) // 40))
    part = test.subset(rows)
    cfg = preset("tiny", tasks=(FAULT_TASK,), feature_tokens=True, feature_path=16, patch_len=8,
                 channel_vocab=vocabulary([test.channels, test.feature_names]))
    torch.manual_seed(0)
    model = PlantPulseModel(cfg).eval()
    extra = {"normalizers": bundle.normalizers, "feature_lists": {ASSET: list(test.feature_names)},
             "window_lengths": {ASSET: int(test.sensor.shape[1])}}
    predictor = load_moe(save_checkpoint(model, tmp_path / "bearing-v1.safetensors", name="bearing", extra=extra))
    norm = bundle.normalizers[ASSET]
    raw = np.asarray(part.sensor[np.arange(len(part))]) * np.asarray(norm["std"]) + np.asarray(norm["mean"])
    seen: dict = {}
    hook = predictor.model.register_forward_pre_hook(lambda _m, args: seen.update(batch=args[0]))
    try:
        records = predictor.predict_batch(raw.astype(np.float32), list(test.channels), ASSET)
    finally:
        hook.remove()
    # the features scoring computed are the builder's, column for column
    np.testing.assert_allclose(seen["batch"].features.numpy(), part.features, rtol=1e-3, atol=2e-3)
    scored = np.array([[r.fault_probs[c] for c in FAULT_TASK.classes] for r in records])
    np.testing.assert_allclose(scored, outputs(predictor.model, part)["probs"], atol=2e-3)


def test_weld_structured_features_are_the_baseline_inputs_of_each_image(datasets_dir: Path):
    from plantpulse.model.image_features import image_feature_names, image_features

    plain = build_bundle("weld_surface_yolo", datasets_dir).splits["defect:weld"]
    got = build_bundle("weld_surface_yolo", datasets_dir, structured=True).splits["defect:weld"]
    assert got.train.feature_names == image_feature_names() and plain.train.features is None
    for part, ref in ((got.train, plain.train), (got.val, plain.val), (got.test, plain.test)):
        np.testing.assert_array_equal(part.images, ref.images)
        assert part.features.shape == (len(ref), len(image_feature_names()))
    np.testing.assert_allclose(got.train.features.mean(0), 0, atol=1e-3)
    raw = image_features(got.test.images)
    for col in range(0, raw.shape[1], 7):
        if raw[:, col].std() > 0:
            assert np.corrcoef(raw[:, col], got.test.features[:, col])[0, 1] > 0.9999


def test_the_demo_bearings_lie_in_the_test_segment_of_the_same_load_split(datasets_dir: Path):
    """The sample's bearing vibration (the shipped bearing model scores it in the demo) was never
    training or validation data of that model's split."""
    from plantpulse.data.datasets import load_dataset
    from plantpulse.data.datasets.sample import CWRU_BEARING_SAMPLES, CWRU_FILES
    from plantpulse.pipelines.train.tasks.cwru import recording_segments

    for rec in load_dataset("cwru", datasets_dir).recordings:
        if rec.file_number in CWRU_FILES:
            begin, end = recording_segments(rec, "time", (0.7, 0.15, 0.15), (3,), 0.021, 1024)["test"]
            assert begin <= len(rec.de) - CWRU_BEARING_SAMPLES and end == len(rec.de), rec.file_number


def test_maintnet_labels_have_no_engine_gears_and_no_landing_gear_class(datasets_dir: Path):
    from plantpulse.data.datasets import load_dataset
    from plantpulse.pipelines.train.tasks.maintnet import CLASSES, system_label

    assert "landing_gear" not in CLASSES and len(CLASSES) == 7
    data = load_dataset("maintnet", datasets_dir, verify="sizes")
    gears = [a for a in data.action if "RING GEAR" in a.upper()]
    assert gears and all(system_label(a) != "landing_gear" for a in gears)
    counts = build_bundle("maintnet", datasets_dir).notes["label_counts"]
    assert min(counts.values()) >= 40  # every class has enough rows to be learnt and scored
    wires = [a for a in data.action if "TIE WIRE" in a.upper()]
    assert wires and all(system_label(a) != "electrical" for a in wires)


@pytest.mark.parametrize(("name", "task"), [("maintnet", "system:aircraft"), ("cmapss", "rul:turbofan")])
def test_holdout_scores_on_validation_groups_and_builds_no_test_rows(datasets_dir: Path, name: str, task: str):
    plain = build_bundle(name, datasets_dir, seed=1).splits[task]
    held = build_bundle(name, datasets_dir, seed=1, holdout=0.5).splits[task]
    assert held.train.fingerprint() == plain.train.fingerprint()  # training data unchanged
    val_groups = set(np.unique(plain.val.groups))
    assert set(np.unique(held.test.groups)) <= val_groups and set(np.unique(held.val.groups)) <= val_groups
    assert_disjoint(_groups(held))
    assert len(held.val) + len(held.test) == len(plain.val)
    if plain.test.texts is not None:  # MaintNet: the held-out rows are validation texts, no test text
        assert set(held.test.texts) <= set(plain.val.texts)
        assert not set(held.test.texts) & set(plain.test.texts)
