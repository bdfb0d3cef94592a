"""Behaviour definitions as data: rule-set documents, their presets, and agreement with DeepOF 0.9.

The ``deepof-0.9`` preset is compared frame by frame with DeepOF 0.9.0's own
annotations of ``deepof_two_mice`` (``shared/data/deepof_reference``), and its
preprocessing with the coordinates DeepOF's rules saw.  The rules themselves are
also checked against a line-by-line transliteration of DeepOF's functions on a
synthetic recording where every behaviour occurs (DeepOF leaves some columns
of the real file empty).
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest
import yaml

from pipeline.behavior.primitives import drop_short_runs, majority
from pipeline.behavior.ruledoc import list_presets, load_document, parse_document
from pipeline.behavior.ruleengine import preprocess_pose, score_document
from pipeline.errors import InputError
from pipeline.io import read_pose
from pipeline.pose import PoseData

TABLE = "deepof_two_mice/testDLC_h5_table_madlc.h5"
REFERENCE = {25: "deepof_reference/madlc_annotations.csv", 30: "deepof_reference/madlc_annotations_30fps.csv"}
BLACK, WHITE = "mouse_black_tail", "mouse_white_tail"
SOCIAL = [f"{BLACK}_{WHITE}_{b}" for b in ("nose2nose", "sidebyside", "sidereside")] + [
    f"{a}_{t}_{b}" for b in ("nose2tail", "nose2body", "following") for a, t in ((BLACK, WHITE), (WHITE, BLACK))]
# what DeepOF 0.9.0 flags in the real file (frames), and what we reach (kappa 1.0 = every frame agrees)
DEEPOF_POSITIVES = {
    25: {f"{BLACK}_{WHITE}_sidereside": 6, f"{BLACK}_{WHITE}_nose2tail": 9, f"{WHITE}_{BLACK}_nose2tail": 6,
         f"{WHITE}_{BLACK}_nose2body": 8},
    30: {f"{BLACK}_{WHITE}_nose2tail": 7, f"{WHITE}_{BLACK}_nose2tail": 1, f"{WHITE}_{BLACK}_nose2body": 6},
}
DEEPOF_HASH = "2725434c211f66170eb3e46b2b0a609d06513006eb4adab454cce9ea6b48c572"
KEYPOINTS = ("Nose", "Left_ear", "Right_ear", "Spine_1", "Center", "Spine_2", "Tail_base", "Tail_1", "Tail_2",
             "Tail_tip", "Left_bhip", "Right_bhip", "Left_fhip", "Right_fhip")


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two 0/1 label vectors (NaN when both are constant and equal)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    po = np.mean(a == b)
    pe = a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean())
    return float("nan") if pe == 1 else float((po - pe) / (1 - pe))


@pytest.fixture(scope="module")
def deepof_doc():
    return load_document("deepof-0.9")


@pytest.fixture(scope="module")
def deepof_roles(deepof_doc):
    return deepof_doc.skeleton_roles("deepof_14")


# ------------------------------------------------------------------ agreement with DeepOF 0.9.0

@pytest.mark.parametrize("fps", [25, 30])
def test_deepof_preset_agrees_with_deepof_on_every_social_column(shared_data, deepof_doc, deepof_roles, fps):
    pose = read_pose(shared_data / TABLE, fps=fps)
    ours = score_document(pose, deepof_doc, roles=deepof_roles, mm_per_px=1.0, fps=fps).to_frame()
    ref = pd.read_csv(shared_data / REFERENCE[fps])
    assert sorted(ours.columns) == sorted(SOCIAL)
    kappas = {}
    for col in SOCIAL:
        theirs, mine = ref[col].to_numpy(), ours[col].to_numpy()
        # DeepOF writes NaN where the column's first animal is missing: the same frames are unscorable here
        assert np.array_equal(np.isnan(theirs), np.isnan(mine)), col
        ok = ~np.isnan(theirs)
        assert int(np.nansum(theirs)) == DEEPOF_POSITIVES[fps].get(col, 0), col
        if not np.nansum(theirs):
            assert np.nansum(mine) == 0, f"{col}: DeepOF flags no frame, we flag {np.nansum(mine)}"
            continue
        kappas[col] = cohen_kappa(theirs[ok], mine[ok])
    assert kappas == {col: 1.0 for col in DEEPOF_POSITIVES[fps]}


def test_deepof_preprocessing_gives_the_coordinates_deepof_saw(shared_data, deepof_doc):
    pose = read_pose(shared_data / TABLE, fps=25)
    pre, presence = preprocess_pose(pose, deepof_doc)
    ref = pd.read_csv(shared_data / "deepof_reference/madlc_deepof_preprocessed_coords_mm.csv")
    cols = [c for c in ref.columns if c not in ("frame", "time")]
    assert len(cols) == 2 * 14 * 2
    ours = np.stack([pre.positions[:, pre.individuals.index(c[:16]), pre.keypoints.index(c[17:-2]), "xy".index(c[-1])]
                     for c in cols], axis=1)
    theirs = ref[cols].to_numpy()
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    assert int(np.isnan(theirs).sum()) == 1892
    # DeepOF's Savitzky-Golay fits a degree-14 polynomial through 15 points. In the middle that is a fixed
    # convolution and agrees to 1e-9; in the first and last frames (and the frames that the outlier window and
    # the interpolation reach from there) scipy fits the polynomial by least squares, which is ill-conditioned
    # at this degree: its rounding depends on the machine's BLAS kernels (about 1e-5 relative, seen as 0.003
    # on one machine and exact on another), for DeepOF as for us.
    edge = np.zeros(len(ours), bool)
    edge[:12] = edge[-12:] = True
    ok = ~np.isnan(theirs)
    np.testing.assert_allclose(ours[~edge][ok[~edge]], theirs[~edge][ok[~edge]], rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours[edge][ok[edge]], theirs[edge][ok[edge]], rtol=1e-4, atol=1e-6)
    # frames where each mouse is absent (median likelihood <= 0.5), DeepOF's *_missing columns
    ann = pd.read_csv(shared_data / REFERENCE[25])
    assert np.array_equal(~presence, ann[[f"{BLACK}_missing", f"{WHITE}_missing"]].to_numpy(bool))
    assert (~presence).sum(axis=0).tolist() == [29, 34]


# ------------------------------------------------------------------ the rules against DeepOF's code, transliterated

def _binary_moving_median(y, lag):
    """deepof.utils.binary_moving_median_numba, as written."""
    pad = (lag - 1) // 2
    out = np.zeros(len(y), dtype=bool)
    for i in range(pad, len(y) - pad):
        out[i] = sum(bool(k) for k in y[i - pad:i + pad + 1]) > pad
    return out


def _filter_short_true_segments(array, min_length):
    """deepof.utils.filter_short_true_segments, as written."""
    n, out, count, in_segment = len(array), np.zeros(len(array), dtype=bool), 0, False
    for i in range(n):
        if array[i]:
            count += 1
            in_segment = True
        elif in_segment:
            if count >= min_length:
                out[i - count:i] = True
            count, in_segment = 0, False
    if in_segment and count >= min_length:
        out[n - count:n] = True
    return out


def _deepof_tags(coords: dict, fps: int) -> pd.DataFrame:
    """deepof.annotation_utils' social rules with the default parameters, on raw coordinates
    ``coords[(animal, bodypart)] -> (time, 2)`` (mm); NaN = missing."""
    close, side, lag, ff, mff = 25, 50, int(fps / 2), int(fps / 2), int(fps / 4)
    main_body = ["Left_ear", "Right_ear", "Spine_1", "Center", "Spine_2", "Left_fhip", "Right_fhip", "Left_bhip",
                 "Right_bhip"]

    def dist(u, v):
        return np.linalg.norm(u - v, axis=1)

    def post(y):
        return _binary_moving_median(np.nan_to_num(y).astype(bool), lag)

    def speed(a, bp):  # deepof.utils.rolling_speed on one body part, shift 2, window 3, 3 decimals
        s = pd.DataFrame(coords[(a, bp)])
        d = np.linalg.norm(s.to_numpy() / 2 - s.shift(2).to_numpy() / 2, axis=1)
        return (np.round(pd.Series(d).rolling(3).mean(), 3) * fps).to_numpy()

    def following(x, y):
        tb = pd.DataFrame(coords[(y, "Tail_base")])
        path = pd.DataFrame({i: np.linalg.norm(coords[(x, "Nose")] - tb.shift(i).to_numpy(), axis=1)
                             for i in range(ff)})
        n2t = dist(coords[(x, "Nose")], coords[(y, "Tail_base")])
        f = ((path.min(axis=1).to_numpy() < 25) & (n2t < dist(coords[(x, "Tail_base")], coords[(y, "Tail_base")]))
             & (n2t < dist(coords[(x, "Nose")], coords[(y, "Nose")])) & (speed(x, "Nose") > 40))
        return _filter_short_true_segments(post(f), mff)

    a, b = "a", "b"
    c = coords
    tags = {f"{a}_{b}_nose2nose": post(dist(c[(a, "Nose")], c[(b, "Nose")]) < close),
            f"{a}_{b}_sidebyside": post((dist(c[(b, "Nose")], c[(a, "Nose")]) < side)
                                        & (dist(c[(b, "Tail_base")], c[(a, "Tail_base")]) < side)),
            f"{a}_{b}_sidereside": post((dist(c[(b, "Nose")], c[(a, "Tail_base")]) < side)
                                        & (dist(c[(b, "Tail_base")], c[(a, "Nose")]) < side))}
    for x, y in ((a, b), (b, a)):
        tags[f"{x}_{y}_nose2tail"] = post(dist(c[(x, "Nose")], c[(y, "Tail_base")]) < close)
        tags[f"{x}_{y}_nose2body"] = post(np.any([dist(c[(x, "Nose")], c[(y, p)]) < close for p in main_body], 0))
        tags[f"{x}_{y}_following"] = following(x, y)
    return pd.DataFrame(tags).astype(float)


OFFSETS = {"Nose": (40, 0), "Left_ear": (28, 8), "Right_ear": (28, -8), "Spine_1": (20, 0), "Center": (0, 0),
           "Spine_2": (-20, 0), "Tail_base": (-40, 0), "Tail_1": (-60, 0), "Tail_2": (-80, 0),
           "Tail_tip": (-100, 0), "Left_bhip": (-25, 12), "Right_bhip": (-25, -12), "Left_fhip": (10, 12),
           "Right_fhip": (10, -12)}


def _mouse(centre: np.ndarray, heading: np.ndarray) -> np.ndarray:
    """(time, 14, 2) keypoints of a rigid mouse; ``heading`` in radians."""
    f = np.stack([np.cos(heading), np.sin(heading)], -1)[:, None]
    left = np.stack([-np.sin(heading), np.cos(heading)], -1)[:, None]
    off = np.array([OFFSETS[k] for k in KEYPOINTS], float)
    return centre[:, None] + off[None, :, :1] * f + off[None, :, 1:] * left


def _synthetic_pair(seed: int = 7) -> np.ndarray:
    """(600, 2, 14, 2) mm: following on a circle, then side by side, side by side reversed,
    nose to nose and nose to body, with 2 mm of noise and 5 % of points missing."""
    rng = np.random.default_rng(seed)
    t = np.arange(200)
    omega = 3.2 / 150  # 80 mm/s at 25 fps on a 150 mm circle
    gap = (95 + 35 * np.sin(2 * np.pi * t / 90)) / 150
    ang_b = omega * t
    b = _mouse(300 + 150 * np.stack([np.cos(ang_b), np.sin(ang_b)], -1), ang_b + np.pi / 2)
    a = _mouse(300 + 150 * np.stack([np.cos(ang_b - gap), np.sin(ang_b - gap)], -1), ang_b - gap + np.pi / 2)
    blocks = [np.stack([a, b], 1)]
    s = np.arange(100)
    wobble = 10 * np.sin(2 * np.pi * s / 37)
    for b_off, b_head in (((0, 30), 0.0), ((0, 30), np.pi), ((85, 0), np.pi), ((60, 55), -np.pi / 2)):
        ca = np.stack([300 + wobble, 300 + 0 * s], -1)
        cb = ca + np.array(b_off, float) + np.stack([0 * s, wobble], -1)
        blocks.append(np.stack([_mouse(ca, 0 * s + 0.0), _mouse(cb, 0 * s + b_head)], 1))
    pos = np.concatenate(blocks, 0) + rng.normal(0, 2.0, (600, 2, 14, 2))
    pos[rng.random((600, 2, 14)) < 0.05] = np.nan
    return pos


def _rules_only(doc) -> dict:
    d = copy.deepcopy(doc.to_dict())
    d["preprocessing"] = {"filters": []}
    d["name"] = "deepof-0.9-rules-only"
    return d


@pytest.mark.parametrize("fps", [25, 30])
def test_deepof_rules_match_deepofs_functions_where_every_behaviour_occurs(deepof_doc, deepof_roles, fps):
    pos = _synthetic_pair()
    pose = PoseData(pos, np.ones(pos.shape[:3]), individuals=("a", "b"), keypoints=KEYPOINTS, fps=fps)
    ours = score_document(pose, _rules_only(deepof_doc), roles=deepof_roles, mm_per_px=1.0).to_frame()
    coords = {(ind, k): pos[:, i, j] for i, ind in enumerate("ab") for j, k in enumerate(KEYPOINTS)}
    theirs = _deepof_tags(coords, fps)
    assert sorted(ours.columns) == sorted(theirs.columns)
    counts = {c: int(theirs[c].sum()) for c in theirs.columns}
    assert all(counts.values()), counts  # every behaviour occurs
    for c in theirs.columns:
        assert cohen_kappa(theirs[c], ours[c]) == 1.0, c
        assert np.array_equal(theirs[c].to_numpy(), ours[c].to_numpy()), c


def test_majority_and_short_runs_match_deepofs_loops():
    rng = np.random.default_rng(3)
    y = rng.random((5, 300)) < 0.5
    for lag in (3, 12, 15):
        expected = np.stack([_binary_moving_median(r, lag) for r in y])
        assert np.array_equal(majority(y, lag, edges="zero"), expected)
    for m in (1, 6, 7):
        expected = np.stack([_filter_short_true_segments(r, m) for r in y])
        assert np.array_equal(drop_short_runs(y, m), expected)


def test_majority_edge_policies():
    m = np.array([[1, 1, 0, 0, 0, 0, 0, 1, 1, 0]], bool)
    assert majority(m, 5, edges="zero").astype(int).tolist() == [[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]
    # AmadeusGPT: zero-padded moving average > 0.5
    assert majority(m, 3, edges="pad_false").astype(int).tolist() == [[1, 1, 0, 0, 0, 0, 0, 1, 1, 0]]
    assert majority(m, 5, edges="truncate").astype(int).tolist() == [[1, 0, 0, 0, 0, 0, 0, 0, 0, 1]]


# ------------------------------------------------------------------ AmadeusGPT preset

def test_amadeus_head_angle_is_amadeusgpts_relative_head_angle(shared_data):
    """The ccw360 head angle equals AmadeusGPT's: the other's centre in the sender's head frame."""
    from pipeline.behavior.ruledoc import Feature
    from pipeline.behavior.ruleengine import _Features, resolve_document_roles

    doc = load_document("amadeus-mabe")
    pose = read_pose(shared_data / "ethome_pose_boris/e3v813a-20210610T122332-122642DLC_dlcrnetms5_pilot_"
                                   "studySep24shuffle1_100000_el_filtered.csv", fps=30)
    roles = {"nose": "nose", "neck": "neck", "center": {"median": "*"}, "all": "*"}
    feats = _Features(pose.positions, resolve_document_roles(doc, roles, pose.keypoints), doc, 30, doc.name)
    head = next(f for f in doc.behaviors[1].features if f.primitive == "head_angle")
    assert isinstance(head, Feature)
    ours = feats.get(head)[feats.pairs.index((0, 1))]
    # AmadeusGPT: calc_head_cs, np.linalg.inv, calc_angle_in_egocentric_animal
    p = pose.positions
    nose, neck = p[:, 0, pose.keypoints.index("nose")], p[:, 0, pose.keypoints.index("neck")]
    axis = (nose - neck) / np.linalg.norm(nose - neck, axis=1, keepdims=True)
    normal = axis[:, [1, 0]].copy()
    normal[:, 0] *= -1
    cs = np.zeros((len(p), 3, 3))
    cs[:, :2, :2] = np.stack((axis, normal), axis=2)
    cs[:, :, 2] = np.c_[neck, np.ones(len(p))]
    inv = np.full_like(cs, np.nan)
    valid = np.isclose(np.linalg.det(cs[:, :2, :2]), 1)
    inv[valid] = np.linalg.inv(cs[valid])
    with np.errstate(invalid="ignore"):
        centre = np.nanmedian(p[:, 1], axis=1)
    q = np.squeeze(inv @ np.pad(centre, ((0, 0), (0, 1)), constant_values=1)[:, :, None])[:, :2]
    theirs = np.rad2deg(np.arctan2(q[:, 1], q[:, 0]) % (2 * np.pi))
    both = np.isfinite(theirs) & np.isfinite(ours)
    assert both.sum() > 5000 and np.array_equal(np.isfinite(theirs), np.isfinite(ours))
    d = np.abs(ours[both] - theirs[both])
    assert np.minimum(d, 360 - d).max() < 1e-6


def test_amadeus_preset_scores_a_real_two_animal_file(shared_data):
    pose = read_pose(shared_data / "ethome_pose_boris/e3v813a-20210610T122332-122642DLC_dlcrnetms5_pilot_"
                                   "studySep24shuffle1_100000_el_filtered.csv", fps=30)
    roles = load_document("amadeus-mabe").skeleton_roles("mabe_mouse")
    res = score_document(pose, "amadeus-mabe", roles=roles)
    frame = res.to_frame()
    assert list(frame.columns) == ["adult_juvenile_chase", "juvenile_adult_chase", "adult_juvenile_watch",
                                   "juvenile_adult_watch"]
    assert frame.sum().astype(int).tolist() == [23, 0, 75, 19]
    # every kept bout is at least min_window = 11 frames long
    for col in frame:
        x = np.r_[0, frame[col].to_numpy(int), 0]
        starts, ends = np.flatnonzero(np.diff(x) == 1), np.flatnonzero(np.diff(x) == -1)
        assert ((ends - starts) >= 11).all()


# ------------------------------------------------------------------ documents: presets, hash, validation

def test_presets_are_found_by_name():
    assert {"deepof-0.9", "amadeus-mabe"} <= set(list_presets())
    with pytest.raises(InputError, match="no such rule-set file or preset"):
        load_document("deepof-0.8")


def test_content_hash_is_stable_and_tracks_content(tmp_path, deepof_doc):
    assert deepof_doc.content_hash() == DEEPOF_HASH
    again = parse_document(json.loads(deepof_doc.canonical_json()), source="copy")
    assert again == deepof_doc and again.content_hash() == DEEPOF_HASH
    # key order and file format do not matter
    d = deepof_doc.to_dict()
    shuffled = {k: d[k] for k in reversed(list(d))}
    (tmp_path / "r.json").write_text(json.dumps(shuffled, indent=1))
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    assert load_document(tmp_path / "r.json").content_hash() == DEEPOF_HASH
    assert load_document(tmp_path / "r.yaml").content_hash() == DEEPOF_HASH
    d["behaviors"][0]["conditions"][0]["below"] = 24
    assert parse_document(d).content_hash() != DEEPOF_HASH


def _doc(**behavior):
    beh = {"name": "touch", "conditions": [{"distance": {"agent": "nose", "target": "tail_base"}, "below": 10}]}
    beh.update(behavior)
    return {"name": "mine", "units": "mm", "roles": {"nose": "", "tail_base": ""}, "behaviors": [beh]}


@pytest.mark.parametrize("change, message", [
    ({"conditions": [{"distance": {"agent": "snout", "target": "tail_base"}, "below": 10}]},
     r"mine: behaviour 'touch'.conditions\[0\].distance.agent: unknown role 'snout'"),
    ({"conditions": [{"distanse": {"agent": "nose", "target": "tail_base"}, "below": 10}]},
     r"behaviour 'touch'.conditions\[0\]: unknown primitive 'distanse'"),
    ({"conditions": [{"speed": {"role": "nose", "per": "minute"}, "above": 1}]},
     r"behaviour 'touch'.conditions\[0\].speed.per: must be one of \['second', 'frame'\], got 'minute'"),
    ({"conditions": [{"distance": {"agent": "nose", "target": "tail_base"}, "below": "10 cm"}]},
     r"behaviour 'touch'.conditions\[0\].below: must be a finite number, got '10 cm'"),
    ({"conditions": [{"distance": {"agent": "nose", "target": "tail_base"}, "below": 5, "above": 9}]},
     r"behaviour 'touch'.conditions\[0\]: empty range"),
    ({"smoothing": {"method": "mean", "window_s": 0.2}},
     r"behaviour 'touch'.smoothing.method: must be one of \['none', 'median', 'majority'\]"),
    ({"missing": "ignore"}, r"behaviour 'touch'.missing: must be one of \['unscorable', 'no_contact'\]"),
    ({"min_bout_s": 0.2, "min_bout_frames": 3}, r"behaviour 'touch': give either min_bout_frames or min_bout_s"),
    ({"colour": "red"}, r"behaviour 'touch': unknown field\(s\) \['colour'\]"),
])
def test_validation_errors_name_document_behaviour_and_field(change, message):
    with pytest.raises(InputError, match=message):
        parse_document(_doc(**change), source="mine")


def test_validation_of_document_level_fields():
    with pytest.raises(InputError, match=r"mine: units: must be one of \['mm', 'px', 'body_lengths'\], got 'cm'"):
        parse_document({**_doc(), "units": "cm"}, source="mine")
    with pytest.raises(InputError, match="units 'body_lengths' needs body_length"):
        parse_document({**_doc(), "units": "body_lengths"}, source="mine")
    with pytest.raises(InputError, match=r"exclusivity.priority: unknown or repeated behaviour\(s\) \['sniff'\]"):
        parse_document({**_doc(), "exclusivity": {"policy": "exclusive", "priority": ["sniff"]}}, source="mine")
    with pytest.raises(InputError, match=r"preprocessing.filters\[0\].step: unknown filter step 'smooth'"):
        parse_document({**_doc(), "preprocessing": {"filters": [{"step": "smooth"}]}}, source="mine")
    with pytest.raises(InputError, match=r"filters\[0\]: step 'savgol': unknown option\(s\) \['width'\], "
                                         r"missing option\(s\) \['window'\]"):
        parse_document({**_doc(), "preprocessing": {"filters": [{"step": "savgol", "width": 5, "order": 2}]}},
                       source="mine")


def test_role_map_and_scale_are_checked_when_scoring(shared_data, deepof_doc, deepof_roles):
    pose = read_pose(shared_data / TABLE, fps=25)
    with pytest.raises(InputError, match=r"deepof-0.9: role 'nose' names keypoint\(s\) \['Snout'\] not in"):
        score_document(pose, deepof_doc, roles={**deepof_roles, "nose": "Snout"}, mm_per_px=1.0)
    with pytest.raises(InputError, match=r"role map lacks role\(s\) \['body'\]"):
        score_document(pose, deepof_doc, roles={"nose": "Nose", "tail_base": "Tail_base"}, mm_per_px=1.0)
    with pytest.raises(InputError, match="units 'mm' need a positive mm_per_px"):
        score_document(pose, deepof_doc, roles=deepof_roles)
    doc = {**_doc(conditions=[{"head_angle": {"tail": "tail_base", "head": "nose", "target": "body"}, "below": 30}]),
           "roles": {"nose": "", "tail_base": "", "body": ""}}
    with pytest.raises(InputError, match="head_angle needs a single point for role 'body'"):
        score_document(pose, doc, roles=deepof_roles, mm_per_px=1.0)


def test_exclusive_priority_and_unscorable_policy():
    """Two behaviours on the same distance: the first in the priority list takes the frame;
    with ``missing: unscorable`` a frame without the nose is not scorable."""
    t = 20
    pos = np.zeros((t, 2, 2, 2))
    pos[:, 1, :, 0] = np.linspace(0, 38, t)[:, None]  # b moves away along x: distances 0..38 mm
    pos[5, 0, 0] = np.nan  # a's nose missing at frame 5
    pose = PoseData(pos, np.ones((t, 2, 2)), individuals=("a", "b"), keypoints=("n", "t"), fps=10)
    near = {"distance": {"agent": "nose", "target": "nose"}, "below": 10}
    close = {"distance": {"agent": "nose", "target": "tail"}, "below": 20}
    doc = {"name": "ex", "units": "mm", "roles": ["nose", "tail"],
           "exclusivity": {"policy": "exclusive", "priority": ["near", "close"]},
           "behaviors": [{"name": "near", "pairs": "mutual", "conditions": [near]},
                         {"name": "close", "pairs": "directed", "conditions": [close]}]}
    res = score_document(pose, doc, roles={"nose": "n", "tail": "t"}, mm_per_px=1.0)
    f = res.to_frame()
    d = np.linspace(0, 38, t)
    assert np.isnan(f["a_b_near"][5]) and np.isnan(f["a_b_close"][5]) and not np.isnan(f["b_a_close"][5])
    expect_near = (d < 10).astype(float)
    expect_near[5] = np.nan
    np.testing.assert_array_equal(f["a_b_near"].to_numpy(), expect_near)
    # b's nose to a's tail is always known; frames where a and b are "near" are not "close"
    assert f["b_a_close"].tolist() == ((d >= 10) & (d < 20)).astype(float).tolist()
    # independent: both behaviours keep their own frames
    res2 = score_document(pose, {**doc, "exclusivity": "independent"}, roles={"nose": "n", "tail": "t"},
                          mm_per_px=1.0).to_frame()
    assert res2["b_a_close"].sum() == (d < 20).sum() == 10
    assert res2["a_b_near"].sum() == (d < 10).sum() == 5


def _line_pose(distances) -> PoseData:
    """Two animals with one keypoint each, ``distances`` (mm) apart along x."""
    d = np.asarray(distances, float)
    pos = np.zeros((len(d), 2, 1, 2))
    pos[:, 1, 0, 0] = d
    return PoseData(pos, np.ones((len(d), 2, 1)), individuals=("a", "b"), keypoints=("n",), fps=10)


def test_hysteresis_gap_merge_min_bout_and_median_window():
    d = [30, 15, 8, 15, 18, 30, 8, 30, 30, 8]
    beh = {"name": "touch", "pairs": "mutual", "conditions": [{"distance": {"agent": "nose", "target": "nose"},
                                                               "below": 10}]}
    doc = {"name": "h", "units": "px", "roles": ["nose"], "behaviors": [beh]}
    roles = {"nose": "n"}

    def frames(**changes):
        res = score_document(_line_pose(d), {**doc, "behaviors": [{**beh, **changes}]}, roles=roles)
        return res.to_frame()["a_b_touch"].astype(int).tolist()

    assert frames() == [0, 0, 1, 0, 0, 0, 1, 0, 0, 1]
    # strict frames 2 and 6 extend over the frames under 2 x 10
    assert frames(hysteresis={"release_factor": 2}) == [0, 1, 1, 1, 1, 0, 1, 0, 0, 1]
    # ... the one-frame gap is bridged, and the lone frame 9 is shorter than 3 frames
    assert frames(hysteresis={"release_factor": 2}, max_gap_frames=1, min_bout_frames=3) == [
        0, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    # a 3-frame running median of the distance removes isolated dips
    assert frames(smoothing={"method": "median", "window_frames": 3}) == [0] * 10
    assert frames(min_bout_s=0.2) == [0] * 10  # 0.2 s at 10 fps = 2 frames


@pytest.mark.parametrize("name", list_presets())
def test_every_preset_reads_back_from_its_stored_form(name):
    """The database stores a document's canonical JSON (optional parameters as null) and scores from it."""
    doc = load_document(name)
    stored = json.loads(doc.canonical_json())
    again = parse_document(stored, source="stored")
    assert again.canonical_json() == doc.canonical_json() and again.content_hash() == doc.content_hash()
