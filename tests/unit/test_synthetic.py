"""Synthetic two-mouse generator: determinism, geometry, ground truth, noise, files, video, cohort."""

import time
from functools import cache

import h5py
import numpy as np
import pandas as pd
import pytest

from pipeline.errors import InputError
from pipeline.synthetic import (
    BEHAVIORS,
    EDGES,
    EPISODE_COLUMNS,
    KEYPOINTS,
    TARGET_KEYPOINT,
    ObservationNoise,
    render_video,
    simulate_cohort,
    simulate_session,
    write_session_files,
)

KP = {k: i for i, k in enumerate(KEYPOINTS)}


@cache
def session(seed=11, duration_s=180.0, **kw):
    return simulate_session(seed=seed, duration_s=duration_s, **dict(kw))


def nose_to_partner(true):
    """(time, 2): min distance from animal i's nose to any keypoint of the other animal."""
    return np.stack([np.linalg.norm(true[:, i, KP["nose"], None] - true[:, 1 - i], axis=-1).min(-1)
                     for i in (0, 1)], axis=1)


def angle_deg(u, v):
    """Unsigned angle between 2-D vectors, rows of u and v."""
    cross = u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0]
    return np.degrees(np.abs(np.arctan2(cross, (u * v).sum(-1))))


# ------------------------------------------------------------------ determinism and metadata


def test_same_seed_is_bit_identical_and_other_seeds_differ():
    a, b = simulate_session(seed=5, duration_s=60), simulate_session(seed=5, duration_s=60)
    np.testing.assert_array_equal(a.pose.positions, b.pose.positions)  # NaNs in the same places
    np.testing.assert_array_equal(a.pose.confidence, b.pose.confidence)
    np.testing.assert_array_equal(a.true_positions_mm, b.true_positions_mm)
    pd.testing.assert_frame_equal(a.episodes, b.episodes)
    c = simulate_session(seed=6, duration_s=60)
    assert not np.allclose(a.true_positions_mm, c.true_positions_mm)
    assert not a.episodes[["start_frame", "end_frame"]].equals(c.episodes[["start_frame", "end_frame"]])


def test_noise_model_does_not_change_the_motion():
    noisy, exact = session(), session(noise=None)
    np.testing.assert_array_equal(noisy.true_positions_mm, exact.true_positions_mm)
    pd.testing.assert_frame_equal(noisy.episodes, exact.episodes)


def test_pose_metadata_and_shapes():
    s = session()
    p = s.pose
    assert p.positions.shape == (5400, 2, 6, 2) and s.true_positions_mm.shape == p.positions.shape
    assert p.keypoints == KEYPOINTS == ("nose", "left_ear", "right_ear", "neck", "body_center", "tail_base")
    assert p.edges == EDGES and len(EDGES) == 6
    assert p.individuals == ("mouse1", "mouse2") and p.fps == 30.0 and p.source_software == "synthetic"
    assert ((p.confidence > 0) & (p.confidence <= 1)).all()
    xy = s.true_positions_mm[100:110]
    np.testing.assert_allclose(s.px_to_mm(s.mm_to_px(xy)), xy, atol=1e-9)


# ------------------------------------------------------------------ geometry and movement


def test_body_geometry_is_mouse_like():
    t = session().true_positions_mm
    d = lambda a, b: np.linalg.norm(t[:, :, KP[a]] - t[:, :, KP[b]], axis=-1)  # noqa: E731
    assert d("nose", "neck").min() > 19.9 and d("nose", "neck").max() < 22.1
    assert d("neck", "body_center").min() > 24.9 and d("neck", "body_center").max() < 27.6
    assert d("body_center", "tail_base").min() > 29.9 and d("body_center", "tail_base").max() < 33.1
    assert d("nose", "tail_base").min() > 72 and d("nose", "tail_base").max() < 83  # bent a little at most
    assert d("left_ear", "right_ear").min() > 15.9 and d("left_ear", "right_ear").max() < 17.7
    # left is left: with the head pointing along +x (y down), the left ear is at smaller y
    head = t[:, :, KP["nose"]] - t[:, :, KP["neck"]]
    ears = t[:, :, KP["left_ear"]] - t[:, :, KP["right_ear"]]
    assert (head[..., 0] * ears[..., 1] - head[..., 1] * ears[..., 0] < 0).all()


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_animals_stay_in_the_arena_and_move_plausibly(seed):
    s = session(seed)
    t = s.true_positions_mm
    assert np.linalg.norm(t, axis=-1).max() <= s.arena_radius_mm
    speed = np.linalg.norm(np.diff(t[:, :, KP["body_center"]], axis=0), axis=-1) * s.fps
    assert np.median(speed) < 80 and np.percentile(speed, 95) < 300
    assert (speed > 50).mean() > 0.2  # they do walk
    heading = np.diff(np.unwrap(np.arctan2(*(t[:, :, KP["neck"]] - t[:, :, KP["body_center"]]).T[::-1]), axis=1))
    assert np.abs(heading).sum() > 50  # and turn (radians, over 3 minutes)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_apart_outside_episodes_in_contact_during_them(seed):
    s = session(seed)
    t, inside = s.true_positions_mm, s.in_episode()
    sep = nose_to_partner(t)
    assert sep[~inside].min() > 40, "a nose came within 40 mm of the other animal outside every episode"
    assert len(s.episodes) >= 15
    for ep in s.episodes.itertuples():
        a, g = s.individuals.index(ep.agent), s.individuals.index(ep.target)
        frames = slice(ep.start_frame, ep.end_frame)
        point = t[frames, g, KP[TARGET_KEYPOINT[ep.behavior]]]
        nose, neck = t[frames, a, KP["nose"]], t[frames, a, KP["neck"]]
        dist = np.linalg.norm(nose - point, axis=-1)
        assert (dist < 20).mean() >= 0.9 and (dist < 15).mean() >= 0.8, ep
        assert (angle_deg(nose - neck, point - neck) < 30).mean() >= 0.9, ep  # head points at the target point
        others = [KP[k] for k in KEYPOINTS if k != TARGET_KEYPOINT[ep.behavior]]
        nearest = np.linalg.norm(nose[:, None] - t[frames, g][:, others], axis=-1).min(-1)
        assert (nearest > dist)[1:-1].all(), ep  # the scripted point is the one sniffed (after the dart in)
        if ep.behavior == "nose2nose":  # mutual: the target faces the agent's nose too
            tn, tk = t[frames, g, KP["nose"]], t[frames, g, KP["neck"]]
            assert (angle_deg(tn - tk, nose - tk) < 30).mean() >= 0.9
            assert (dist <= 10).mean() >= 0.85


def test_contact_starts_and_ends_within_a_frame():
    s = session()
    t = s.true_positions_mm
    for ep in s.episodes.itertuples():
        a, g = s.individuals.index(ep.agent), s.individuals.index(ep.target)
        k = KP[TARGET_KEYPOINT[ep.behavior]]
        before, first = t[ep.start_frame - 1], t[ep.start_frame]
        assert np.linalg.norm(before[a, 0] - before[g, k]) > 40
        assert np.linalg.norm(first[a, 0] - first[g, k]) <= 19.0 + 1e-9
        if ep.end_frame < s.n_frames:
            after = t[ep.end_frame]
            assert np.linalg.norm(after[a, 0] - after[g, k]) > 40


# ------------------------------------------------------------------ ground truth


def test_ground_truth_table_is_well_formed():
    s = session()
    ep = s.episodes
    assert list(ep.columns) == list(EPISODE_COLUMNS)
    assert ep.start_frame.dtype == np.int64 and ep.end_frame.dtype == np.int64
    assert ((ep.start_frame >= 0) & (ep.start_frame < ep.end_frame) & (ep.end_frame <= s.n_frames)).all()
    np.testing.assert_allclose(ep.start_s, ep.start_frame / s.fps)
    np.testing.assert_allclose(ep.end_s, ep.end_frame / s.fps)
    dur = (ep.end_frame - ep.start_frame) / s.fps
    assert dur.min() >= 0.5 - 1e-9 and dur.max() <= 3.0 + 1e-9
    assert ep.start_frame.is_monotonic_increasing
    gaps = ep.start_frame.to_numpy()[1:] - ep.end_frame.to_numpy()[:-1]
    assert gaps.min() >= 2 * s.fps  # >= 2 s apart, so no overlaps for any pair
    assert set(ep.behavior) <= set(BEHAVIORS) and set(ep.agent) == set(s.individuals)
    assert (ep.agent != ep.target).all() and set(ep.target) <= set(s.individuals)
    assert len(s.episodes) <= 30  # 3 per behaviour per agent, dropped when they do not fit


def test_episode_counts_forms():
    per_agent = simulate_session(seed=3, duration_s=120,
                                 episode_counts={"mouse1": {"nose2nose": 2}, "mouse2": {"nose2neck": 3}})
    assert sorted(zip(per_agent.episodes.agent, per_agent.episodes.behavior)) == \
        [("mouse1", "nose2nose")] * 2 + [("mouse2", "nose2neck")] * 3
    per_behaviour = simulate_session(seed=3, duration_s=120, episode_counts={"nose2anogenital": 2})
    assert per_behaviour.episodes.groupby("agent").behavior.count().to_dict() == {"mouse1": 2, "mouse2": 2}
    assert simulate_session(seed=3, duration_s=30, episode_counts=0).episodes.empty
    with pytest.raises(ValueError, match="unknown"):
        simulate_session(seed=3, duration_s=30, episode_counts={"grooming": 1})


def test_explicit_episodes_are_played_as_given():
    given = pd.DataFrame({"behavior": ["nose2anogenital", "nose2nose", "nose2right_ear"],
                          "agent": ["mouse2", "mouse1", "mouse1"], "target": ["mouse1", "mouse2", "mouse2"],
                          "start_s": [4.0, 10.0, 16.0], "end_s": [5.5, 11.0, 18.0]})
    s = simulate_session(seed=8, duration_s=25, episodes=given, noise=None)
    assert s.episodes.start_frame.tolist() == [120, 300, 480]
    assert s.episodes.end_frame.tolist() == [165, 330, 540]
    t = s.true_positions_mm
    for ep in s.episodes.itertuples():
        a, g = s.individuals.index(ep.agent), s.individuals.index(ep.target)
        d = np.linalg.norm(t[ep.start_frame:ep.end_frame, a, 0]
                           - t[ep.start_frame:ep.end_frame, g, KP[TARGET_KEYPOINT[ep.behavior]]], axis=-1)
        assert (d < 20).all()
    assert nose_to_partner(t)[~s.in_episode()].min() > 40


@pytest.mark.parametrize("row, problem", [
    ({"behavior": "grooming"}, "unknown behaviour"),
    ({"target": "mouse1"}, "must be the two individuals"),
    ({"start_frame": 10, "end_frame": 10}, "non-empty"),
    ({"start_frame": 100, "end_frame": 2000}, "end by frame"),
])
def test_bad_explicit_episodes_raise(row, problem):
    ep = {"behavior": "nose2nose", "agent": "mouse1", "target": "mouse2", "start_frame": 100, "end_frame": 130}
    with pytest.raises(InputError, match=problem):
        simulate_session(seed=0, duration_s=20, episodes=[{**ep, **row}])


def test_overlapping_explicit_episodes_raise():
    eps = [{"behavior": "nose2nose", "agent": "mouse1", "target": "mouse2", "start_frame": 100, "end_frame": 130},
           {"behavior": "nose2neck", "agent": "mouse2", "target": "mouse1", "start_frame": 125, "end_frame": 160}]
    with pytest.raises(InputError, match=r"episodes\[1\]"):
        simulate_session(seed=0, duration_s=20, episodes=eps)


# ------------------------------------------------------------------ observation noise


@pytest.mark.parametrize("noise", [ObservationNoise(), ObservationNoise(jitter_px=2.5, drop_fraction=0.1)])
def test_noise_statistics(noise):
    s = session(noise=noise)
    obs, true_px = s.pose.positions, s.mm_to_px(s.true_positions_mm)
    dropped = np.isnan(obs[..., 0])
    np.testing.assert_array_equal(dropped, s.dropped)
    np.testing.assert_array_equal(dropped, np.isnan(obs[..., 1]))
    assert abs(dropped.mean() - noise.drop_fraction) < 0.005
    resid = (obs - true_px)[~dropped]
    assert abs(resid.mean()) < 0.05 and abs(resid.std() / noise.jitter_px - 1) < 0.03
    # in mm: the observed pixels map back onto the truth within the jitter
    err_mm = np.linalg.norm(s.px_to_mm(obs) - s.true_positions_mm, axis=-1)[~dropped]
    assert np.percentile(err_mm, 99) < 4 * noise.jitter_px * s.mm_per_px
    conf = s.pose.confidence
    assert conf[dropped].min() >= 0.05 and conf[dropped].max() <= 0.2
    assert conf[~dropped].min() >= 0.75 and conf[~dropped].max() <= 1.0


def test_no_noise_gives_exact_pixels():
    s = session(noise=None)
    np.testing.assert_allclose(s.pose.positions, s.mm_to_px(s.true_positions_mm), atol=1e-9)
    assert (s.pose.confidence == 1).all() and not s.dropped.any()
    assert s.mm_to_px(np.zeros(2)).tolist() == [320.0, 320.0]  # arena centred in the 640 x 640 frame


# ------------------------------------------------------------------ files and video


def test_written_files_round_trip_through_movement(tmp_path):
    from movement.io import load_poses

    s = session()
    paths = write_session_files(s, tmp_path / "out", formats=("sleap_h5", "dlc_h5", "dlc_csv"))
    assert set(paths) == {"sleap_h5", "dlc_h5", "dlc_csv", "truth"} and all(p.exists() for p in paths.values())
    assert paths["sleap_h5"].name == "session.analysis.h5"
    want_pos, want_conf = s.pose.positions, s.pose.confidence
    for fmt, loader, tol in (("sleap_h5", load_poses.from_sleap_file, 1e-3),  # read back as float32
                             ("dlc_h5", load_poses.from_dlc_file, 0.0), ("dlc_csv", load_poses.from_dlc_file, 1e-9)):
        ds = loader(paths[fmt], fps=s.fps)
        assert list(ds.individuals.values) == list(s.individuals)
        assert list(ds.keypoints.values) == list(KEYPOINTS)
        pos = ds.position.values.transpose(0, 3, 2, 1)
        conf = ds.confidence.values.transpose(0, 2, 1)
        np.testing.assert_array_equal(np.isnan(pos), np.isnan(want_pos))  # missing stays NaN (not 0) in both
        np.testing.assert_allclose(pos, want_pos, atol=tol, rtol=0)
        np.testing.assert_allclose(conf, want_conf, atol=tol, rtol=0)
    with h5py.File(paths["sleap_h5"], "r") as f:  # the skeleton movement leaves out is added
        assert [tuple(x.decode() for x in e) for e in f["edge_names"][:]] == list(EDGES)
        assert f["edge_inds"][:].tolist() == [[KEYPOINTS.index(a), KEYPOINTS.index(b)] for a, b in EDGES]
    truth = pd.read_csv(paths["truth"])
    pd.testing.assert_frame_equal(truth, s.episodes, check_dtype=False)
    with pytest.raises(ValueError, match="unknown format"):
        write_session_files(s, tmp_path, formats=("nwb",))


def test_render_video(tmp_path):
    import imageio_ffmpeg

    s = session(noise=None)
    a = render_video(s, tmp_path / "a.mp4", max_frames=45, size=(320, 320))
    b = render_video(s, tmp_path / "b.mp4", max_frames=45, size=(320, 320))
    assert a.exists() and a.read_bytes() == b.read_bytes()
    n, secs = imageio_ffmpeg.count_frames_and_secs(str(a))
    assert n == 45 and secs == pytest.approx(1.5, abs=0.05)
    gen = imageio_ffmpeg.read_frames(str(a), pix_fmt="gray", bpp=1)
    meta = next(gen)
    frame = np.frombuffer(next(gen), np.uint8).reshape(meta["size"][1], meta["size"][0])
    assert frame.shape == (320, 320)
    xy = (s.mm_to_px(s.true_positions_mm[0]) / 2).astype(int)  # output is half the 640 px frame
    for i in (0, 1):
        assert frame[xy[i, KP["nose"], 1], xy[i, KP["nose"], 0]] > 180  # bright nose
        assert frame[xy[i, KP["body_center"], 1], xy[i, KP["body_center"], 0]] < 100  # dark body
    assert 140 < frame[160, 160] < 200 or frame[160, 160] < 100  # floor (or a mouse on it)
    assert frame[2, 2] < 120  # outside the arena


# ------------------------------------------------------------------ cohort


def test_cohort_structure_and_determinism():
    c = simulate_cohort(seed=7, sessions_per_group=2, duration_s=30)
    assert len(c.sessions) == 8 and len(c.subjects) == 16
    assert len({s["subject"] for s in c.subjects}) == 16
    assert {(s["sex"], s["age_group"]) for s in c.subjects} == {("F", "young"), ("F", "old"),
                                                                ("M", "young"), ("M", "old")}
    assert all(s["strain"] == "C57BL/6J" and s["genotype"] == "WT" for s in c.subjects)
    by_subject = {s["subject"]: s for s in c.subjects}
    for sess in c.sessions:
        assert sess.roles == ("resident", "intruder") and len(set(sess.subjects)) == 2
        assert all((by_subject[x]["sex"], by_subject[x]["age_group"]) == sess.group for x in sess.subjects)
        age_days = [(sess.datetime.date() - by_subject[x]["date_of_birth"]).days for x in sess.subjects]
        assert all((50 < d < 80) if sess.group[1] == "young" else (500 < d < 650) for d in age_days)
        assert sess.simulation.name == sess.session_id and sess.simulation.n_frames == 900
    times = [s.datetime for s in c.sessions]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert c.session_table().shape[0] == 8 and {"resident", "intruder"} <= set(c.session_table().columns)
    again = simulate_cohort(seed=7, sessions_per_group=2, duration_s=30)
    pd.testing.assert_frame_equal(c.session_table(), again.session_table())
    pd.testing.assert_frame_equal(c.episodes(), again.episodes())
    np.testing.assert_array_equal(c.sessions[3].simulation.pose.positions, again.sessions[3].simulation.pose.positions)
    other = simulate_cohort(seed=8, sessions_per_group=2, duration_s=30)
    assert not c.episodes()[["start_frame"]].equals(other.episodes()[["start_frame"]])


def test_cohort_groups_differ_in_the_first_three_minutes():
    c = simulate_cohort(seed=1, sessions_per_group=4, duration_s=180, noise=None)
    ep = c.episodes()
    ep = ep[ep.start_s < 180]
    per_session = ep.groupby("session").size().reindex([s.session_id for s in c.sessions], fill_value=0)
    group = pd.Series({s.session_id: s.group for s in c.sessions})
    mean = per_session.groupby(group).mean()
    assert mean[("M", "young")] > 1.3 * mean[("M", "old")] and mean[("F", "young")] > 1.3 * mean[("F", "old")]
    assert mean[("M", "young")] > mean[("F", "young")] and mean[("M", "old")] > mean[("F", "old")]
    duration = (ep.end_s - ep.start_s).groupby([ep.sex, ep.age_group]).mean()
    assert duration["M", "young"] > duration["F", "old"]
    resident = (ep.agent_role == "resident").mean()
    assert 0.5 < resident < 0.75  # residents initiate more


def test_generation_is_fast():
    t0 = time.perf_counter()
    s = simulate_session(seed=21, duration_s=300)
    elapsed = time.perf_counter() - t0
    assert s.n_frames == 9000
    assert elapsed < 2.0, f"5-minute session took {elapsed:.2f} s (about 0.2 s expected)"
