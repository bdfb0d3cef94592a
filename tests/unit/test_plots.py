"""The group plot and the ethogram show what they claim: panels, groups, bar heights, dots, bouts."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection

from pipeline.plots import ethogram, ethogram_figure, group_figure


@pytest.fixture
def animals():
    return pd.DataFrame({
        "behavior": ["nose2nose"] * 4 + ["nose2anogenital"] * 4,
        "sex": ["F", "F", "M", "M"] * 2,
        "bout_count": [2.0, 4.0, 10.0, np.nan, 1.0, 1.0, 5.0, 7.0],
    })


def test_group_figure_has_one_panel_per_behaviour_with_group_means_and_animal_dots(animals):
    fig = group_figure(animals, group_by=["sex"], value="bout_count")
    assert [ax.get_title() for ax in fig.axes] == ["nose → anogenital", "nose → nose"]
    assert fig.axes[0].get_ylabel() == "bouts (count)"
    for ax, means, dots in zip(fig.axes, ([1.0, 6.0], [3.0, 10.0]), ([2, 2], [2, 1])):
        assert [t.get_text() for t in ax.get_xticklabels()] == ["F", "M"]
        assert [round(p.get_height(), 9) for p in ax.patches] == means
        scatter = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert [len(c.get_offsets()) for c in scatter] == dots  # NaN = no data: no dot
    assert "by sex" in fig._suptitle.get_text()


def test_ethogram_draws_each_bout_in_its_row(tmp_path):
    bouts = pd.DataFrame({"behavior": ["nose2nose", "nose2nose", "nose2neck"], "agent": ["a", "a", "b"],
                          "target": ["b", "b", "a"], "start_s": [1.0, 5.0, 2.0], "duration_s": [0.5, 1.5, 2.0]})
    fig = ethogram_figure(bouts, duration_s=10.0, title="s1")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["nose2neck  b → a", "nose2nose  a → b"]
    spans = sorted((round(v[:, 0].min(), 6), round(np.ptp(v[:, 0]), 6))
                   for c in ax.collections for v in (p.vertices for p in c.get_paths()))
    assert spans == [(1.0, 0.5), (2.0, 2.0), (5.0, 1.5)]
    assert ax.get_xlim() == (0.0, 10.0) and ax.get_xlabel() == "time (s)" and ax.get_title() == "s1"
    assert ethogram(bouts, tmp_path / "e.png", duration_s=10.0).read_bytes()[:4] == b"\x89PNG"
