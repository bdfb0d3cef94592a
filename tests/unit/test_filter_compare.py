"""Filter-chain comparison (issue 15 §3): the spike definition, its recall, lag, residual, HF power."""

from dataclasses import replace

import numpy as np
import pytest

from pipeline.io import read_pose
from pipeline.quality import apply_chain
from pipeline.quality.compare import compare_filters, plot_traces, spike_frames, spike_recall
from pipeline.synthetic import inject_spikes, simulate_session

CHAINS = {"kalman": [{"step": "kalman_rts", "process_noise": 1.0, "measurement_noise": 4.0}],
          "gaussian": [{"step": "gaussian", "sigma_frames": 2}],
          "savgol": [{"step": "savgol", "window": 9, "order": 2}]}


def test_spike_definition():
    rng = np.random.default_rng(0)
    x = np.cumsum(rng.normal(0, 1, (400, 2)), axis=0) + 0.3 * rng.normal(0, 1, (400, 2))
    clean = spike_frames(x)
    x[100] += [25.0, 0.0]                     # one frame off the track
    x[200:203] += [0.0, -30.0]                # three frames
    x[300:] += [40.0, 40.0]                   # the track moves for good: not a spike
    assert sorted(set(spike_frames(x)) - set(clean)) == [100, 200]
    still = np.zeros((300, 2))                # a resting animal, position repeated exactly (MAD 0)
    still[::7] += 0.01                        # sub-pixel jitter stays under the 0.5 floor
    still[150] += 4.0
    assert spike_frames(still).tolist() == [150]
    assert spike_frames(np.ones(50)).tolist() == []


def test_recall_on_a_synthetic_session_with_injected_spikes():
    session = simulate_session(seed=3, duration_s=60)
    pose, injected = inject_spikes(session.pose, seed=4, per_series=5)
    found, recalls = 0, []
    for (ind, kp), rows in injected.groupby(["individual", "keypoint"]):
        frames = spike_frames(pose.positions[:, pose.individuals.index(ind), pose.keypoints.index(kp)])
        found += len(frames)
        recalls.append(spike_recall(frames, rows["frame"]))
    assert len(injected) == 60 and np.mean(recalls) >= 0.95
    assert found - len(injected) <= 12       # the simulation's own sudden moves
    table = compare_filters(pose, {name: apply_chain(pose, steps)[0] for name, steps in CHAINS.items()})
    sums = table.groupby("chain")[["spikes_before", "spikes_after"]].sum()
    assert (sums["spikes_before"] == found).all() and (sums["spikes_after"] <= found * 0.3).all()
    assert (table["lag_frames"] == 0).all()  # centred filters
    assert table["hf_power_removed"].between(0.2, 1.0).all()


def test_lag_residual_and_power_of_known_changes():
    pose = simulate_session(seed=1, duration_s=20, noise=None).pose
    delayed = replace(pose, positions=np.concatenate([pose.positions[:1].repeat(3, axis=0), pose.positions[:-3]]))
    shifted = replace(pose, positions=pose.positions + np.array([3.0, 4.0]))
    table = compare_filters(pose, {"delayed": delayed, "shifted": shifted}).set_index("chain")
    assert (table.loc["delayed", "lag_frames"] == 3).all()
    assert np.allclose(table.loc["shifted", "residual_rms"], 5.0)
    assert np.allclose(table.loc["shifted", "hf_power_removed"], 0.0, atol=1e-9)
    with pytest.raises(ValueError, match="differ from the raw"):
        compare_filters(pose, {"short": replace(pose, positions=pose.positions[:10],
                                                 confidence=pose.confidence[:10])})


def test_real_flies(shared_data, tmp_path):
    """clip.predictions.slp: at frames 972-979 the female's head flickers between (447, 390) and (436, 412)
    (read in the file); before, at frames 900-960, it rests."""
    pose = read_pose(shared_data / "sleap_flies/clip.predictions.slp", fps=30)
    head = spike_frames(pose.positions[:, 0, 0])
    assert ((head >= 972) & (head <= 979)).sum() >= 2 and not ((head >= 900) & (head <= 960)).any()
    filtered = {name: apply_chain(pose, steps)[0] for name, steps in CHAINS.items()}
    table = compare_filters(pose, filtered)
    assert len(table) == 2 * 2 * 3 and (table["lag_frames"] == 0).all()
    smoothers = table[table["chain"].isin(["gaussian", "kalman"])]
    assert (smoothers["spikes_after"] < smoothers["spikes_before"]).all()
    assert (table["hf_power_removed"] > 0.9).all()
    path = plot_traces(pose, filtered, tmp_path / "head.png", keypoints=["head"], frames=(900, 1100))
    assert path.stat().st_size > 20000
    with pytest.raises(ValueError, match=r"keypoint\(s\) \['jaw_tip'\] not in the pose"):
        plot_traces(pose, filtered, tmp_path / "x.png", keypoints=["jaw_tip"])
