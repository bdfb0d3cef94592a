"""Human annotations in the database: import (checked, all or nothing), export, agreement with rules.

Real data: ``ethome_pose_boris`` -- a DLC pair (adult, juvenile; 5,700 frames at
30 fps) and a human's BORIS labels of the same video (10 ``interact`` bouts
of the subject ``adult``).
"""

import csv
import math

import numpy as np
import pytest

pytestmark = pytest.mark.integration

POSE = "ethome_pose_boris/e3v813a-20210610T122332-122642DLC_dlcrnetms5_pilot_studySep24shuffle1_100000_el_filtered.csv"
BORIS = "ethome_pose_boris/e3v813a-20210610T122332-122642_reencode.csv"


@pytest.fixture
def ethome(clean, shared_data, tmp_path):
    """The real pair ingested and scored (session 'ethome', camera 'top'); ethogram 'ethome' = [interact]."""
    from schemas.annotation import Ethogram
    from schemas.ingest import ingest
    from tests.integration.test_ingest import write_manifest

    manifest = write_manifest(tmp_path, {
        "subjects": [{"subject": "eth_adult", "sex": "M", "age_group": "adult"},
                     {"subject": "eth_juv", "sex": "M", "age_group": "juvenile"}],
        "sessions": [{"session": "ethome", "datetime": "2021-06-10 12:23:32",
                      "animals": [{"subject": "eth_adult"}, {"subject": "eth_juv"}],
                      "recordings": [{"camera": "top", "fps": 30, "mm_per_px": 0.25, "pose": [
                          {"source": "dlc", "file": str(shared_data / POSE), "roles": {"tail_base": "tail"},
                           "tracks": {"adult": "eth_adult", "juvenile": "eth_juv"}}]}]}]})
    ingest(manifest)
    Ethogram.add("ethome", ["interact"])
    return shared_data


def _boris_frames(path):
    """(start, stop) frames of each START/STOP pair of the BORIS file, read here with csv (nearest frame)."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    header = next(i for i, r in enumerate(rows) if r and r[0] == "Time")
    events = [(float(r[0]), r[-1]) for r in rows[header + 1:] if r]
    starts = [t for t, s in events if s == "START"]
    stops = [t for t, s in events if s == "STOP"]
    return [(math.floor(a * 30 + 0.5), math.floor(b * 30 + 0.5)) for a, b in zip(starts, stops)]


def test_a_boris_file_imports_checked_and_exports_back(ethome, tmp_path):
    from pipeline.annotations import read_annotation
    from schemas.annotation import AnnotationSet
    from schemas.annotation_import import export_annotation, import_annotation

    path = ethome / BORIS
    key = import_annotation(path, session="ethome", camera="top", annotator="hum", ethogram="ethome", fmt="boris",
                            subjects={"adult": "eth_adult"})
    assert key.pop("new") is True
    bouts = (AnnotationSet.Bout & key).to_dicts(order_by="bout_index")
    expected = _boris_frames(path)
    assert [(b["start_frame"], b["end_frame"]) for b in bouts] == expected and len(bouts) == 10
    assert {(b["behavior"], b["agent"], b["target"]) for b in bouts} == {("interact", "eth_adult", None)}
    row = (AnnotationSet & key).fetch1()
    assert row["provenance"]["subjects"] == {"adult": "eth_adult", "": ""} and row["fps"] == 30
    assert sum(b["duration_s"] for b in bouts) == pytest.approx(sum(e - s for s, e in expected) / 30)

    again = import_annotation(path, session="ethome", camera="top", annotator="hum", ethogram="ethome", fmt="boris",
                              subjects={"adult": "eth_adult"})
    assert again["new"] is False and len(AnnotationSet.Bout & key) == 10

    for fmt in ("boris", "csv", "deepethogram"):
        out = export_annotation(key, tmp_path / f"out_{fmt}.csv", fmt=fmt)
        back = read_annotation(out, fps=30, fmt=fmt, **({"subject": "eth_adult"} if fmt == "deepethogram" else {}))
        assert [(b.behavior, b.subject, b.start_frame, b.stop_frame) for b in back.bouts] == \
            [("interact", "eth_adult", s, e) for s, e in expected], fmt


@pytest.mark.parametrize("change, problem", [
    ({"subjects": {"adult": "nobody"}}, "subject(s) ['nobody'] are not animals of the session"),
    ({"subjects": None}, "subject 'adult' is not in the mapping"),
    ({"ethogram": "other"}, "behaviour 'interact' is not in the mapping"),
    ({"ethogram": "missing"}, "ethogram 'missing': not defined"),
    ({"session": "nosuch"}, "nosuch/top: no such recording"),
])
def test_a_bad_import_names_the_problem_and_writes_nothing(ethome, change, problem):
    from pipeline.errors import InputError
    from schemas.annotation import AnnotationSet, Annotator, Ethogram
    from schemas.annotation_import import import_annotation

    Ethogram.add("other", ["attack:directed"])
    args = {"session": "ethome", "camera": "top", "annotator": "hum", "ethogram": "ethome", "fmt": "boris",
            "subjects": {"adult": "eth_adult"}, **change}
    with pytest.raises(InputError) as err:
        import_annotation(ethome / BORIS, **args)
    assert problem in str(err.value)
    assert len(AnnotationSet()) == 0 and len(AnnotationSet.Bout()) == 0 and len(Annotator()) == 0


def test_another_file_under_the_same_label_set_is_refused(ethome, tmp_path):
    from pipeline.errors import InputError
    from schemas.annotation import AnnotationSet
    from schemas.annotation_import import import_annotation

    other = tmp_path / "fewer.csv"
    text = (ethome / BORIS).read_text().splitlines()
    other.write_text("\n".join(text[:-2]) + "\n")  # the last START/STOP pair removed
    args = {"session": "ethome", "camera": "top", "annotator": "hum", "ethogram": "ethome", "fmt": "boris",
            "subjects": {"adult": "eth_adult"}}
    import_annotation(ethome / BORIS, **args)
    with pytest.raises(InputError, match="was imported from other content"):
        import_annotation(other, **args)
    assert import_annotation(other, **args, label_set="round2")["new"] is True
    assert len(AnnotationSet()) == 2


def test_a_bout_past_the_video_end_is_refused(ethome, tmp_path):
    from pipeline.errors import InputError
    from schemas.annotation import AnnotationSet
    from schemas.annotation_import import import_annotation

    path = tmp_path / "late.csv"
    path.write_text("behavior,agent,target,start_frame,stop_frame\ninteract,eth_adult,,5690,5710\n")
    with pytest.raises(InputError, match=r"ends after the video \(5700 frames\)"):
        import_annotation(path, session="ethome", camera="top", annotator="hum", ethogram="ethome", fmt="csv")
    assert len(AnnotationSet()) == 0


def test_agreement_of_the_human_with_itself_and_with_the_rules(ethome, capsys):
    from sklearn.metrics import f1_score

    from schemas.agreement import compare
    from schemas.behavior import NotScorable, SocialBouts
    from workers.cli import main

    SocialBouts.populate({"session": "ethome"})
    assert len(SocialBouts & {"session": "ethome"}) == 1 and not NotScorable & {"session": "ethome"}

    assert main(["annotations", "import", "ethome", "top", str(ethome / BORIS), "--annotator", "hum",
                 "--ethogram", "ethome", "--format", "boris", "--subject", "adult=eth_adult"]) == 0
    same, _ = compare("annotation:hum", "annotation:hum/main", session="ethome", camera="top")
    assert same[["precision", "recall", "kappa", "bout_f1"]].to_numpy().tolist() == [[1.0, 1.0, 1.0, 1.0]]

    contacts = ["nose2nose", "nose2anogenital", "nose2neck", "nose2left_ear", "nose2right_ear"]
    table, meta = compare("annotation:hum", "rules:default", session="ethome", camera="top",
                          map_b={"interact": contacts}, pool_animals=True)
    (row,) = table.to_dict(orient="records")
    # independently: frame masks from the BORIS file and the stored rule bouts
    first, end = meta["frames"]
    human = np.zeros(end - first, bool)
    for s, e in _boris_frames(ethome / BORIS):
        human[s - first:e - first] = True
    rules = np.zeros(end - first, bool)
    key = meta["b"]
    for b in (SocialBouts.Bout & key & [{"behavior": c} for c in contacts]).to_dicts():
        rules[max(b["start_frame"], first) - first:min(b["end_frame"], end) - first] = True
    assert rules.sum() > 0 and row["n_bouts_a"] == 10
    assert row["f1"] == pytest.approx(f1_score(human, rules)) and row["time_s_a"] == pytest.approx(human.sum() / 30)

    capsys.readouterr()
    assert main(["agreement", "ethome", "top", "annotation:hum", "rules:default", "--map-b",
                 "interact=" + ",".join(contacts), "--pool-animals"]) == 0
    out = capsys.readouterr().out
    assert "interact" in out and f"{row['f1']:.3f}" in out
    assert main(["agreement", "ethome", "top", "annotation:hum", "rules:nosuch"]) == 2
    assert "0 rule sets are called 'nosuch'" in capsys.readouterr().err


def _manifest_with_labels(shared_data, subjects):
    return {
        "ethograms": [{"ethogram": "ethome_m", "behaviors": ["interact"]}],
        "subjects": [{"subject": "m_adult", "sex": "M", "age_group": "adult"},
                     {"subject": "m_juv", "sex": "M", "age_group": "juvenile"}],
        "sessions": [{"session": "ethome_m", "datetime": "2021-06-10 12:23:32",
                      "animals": [{"subject": "m_adult"}, {"subject": "m_juv"}],
                      "recordings": [{"camera": "top", "fps": 30, "pose": [
                          {"source": "dlc", "file": str(shared_data / POSE), "roles": {"tail_base": "tail"},
                           "tracks": {"adult": "m_adult", "juvenile": "m_juv"}}],
                          "annotations": [{"file": str(shared_data / BORIS), "format": "boris", "annotator": "hum",
                                           "ethogram": "ethome_m", "subjects": subjects}]}]}]}


def test_annotations_come_in_through_the_manifest_all_or_nothing(clean, shared_data, tmp_path):
    from pipeline.errors import InputError
    from schemas import session
    from schemas.annotation import AnnotationSet, Ethogram
    from schemas.ingest import ingest
    from tests.integration.test_ingest import write_manifest

    bad = write_manifest(tmp_path, _manifest_with_labels(shared_data, {"adult": "m_juvenile"}), name="bad.yaml")
    with pytest.raises(InputError, match=r"recordings\[0\]\.annotations\[0\]: subject\(s\) \['m_juvenile'\]"):
        ingest(bad)
    assert len(session.Session()) == 0 and len(Ethogram()) == 0 and len(AnnotationSet()) == 0

    good = write_manifest(tmp_path, _manifest_with_labels(shared_data, {"adult": "m_adult"}))
    counts = ingest(good)
    assert (counts["Ethogram"], counts["AnnotationSet"], counts["AnnotationSet.Bout"]) == (1, 1, 10)
    key = {"session": "ethome_m", "camera": "top", "annotator": "hum", "label_set": "main"}
    bouts = (AnnotationSet.Bout & key).to_dicts(order_by="bout_index")
    assert [(b["start_frame"], b["end_frame"]) for b in bouts] == _boris_frames(shared_data / BORIS)
    assert (AnnotationSet & key).fetch1("provenance")["subjects"] == {"adult": "m_adult", "": ""}
    again = ingest(good)
    assert (again["AnnotationSet"], again["AnnotationSet.Bout"]) == (0, 0) and len(AnnotationSet.Bout()) == 10


def test_a_stored_agreement_equals_the_printed_one_and_names_its_inputs(ethome, capsys, tmp_path):
    import json

    from schemas.agreement import Agreement, AgreementTask, compare, is_stale
    from schemas.annotation_import import import_annotation
    from schemas.behavior import SocialBouts
    from workers.cli import main

    SocialBouts.populate({"session": "ethome"})
    import_annotation(ethome / BORIS, session="ethome", camera="top", annotator="hum", ethogram="ethome",
                      fmt="boris", subjects={"adult": "eth_adult"})
    contacts = "interact=nose2nose,nose2anogenital,nose2neck,nose2left_ear,nose2right_ear"
    assert main(["agreement", "ethome", "top", "annotation:hum", "rules:default", "--map-b", contacts,
                 "--pool-animals", "--store", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    (task,) = AgreementTask.to_dicts()
    assert task["options"]["map_b"] == {"interact": contacts.split("=")[1].split(",")}
    master = (Agreement & task).fetch1()
    (row,) = (Agreement.Behavior & task).to_dicts()
    assert (master["first_frame"], master["end_frame"]) == tuple(printed["compared"]["frames"]) == (0, 5700)
    assert master["provenance"]["params"]["a"]["annotator"] == "hum"
    assert master["provenance"]["params"]["b"]["pose_version"] == "top/dlc"
    (shown,) = printed["rows"]
    for measure in ("precision", "recall", "f1", "kappa", "matched", "n_bouts_a", "n_bouts_b", "time_s_b"):
        assert row[measure] == pytest.approx(shown[measure]), measure
    again, _ = compare("annotation:hum", "rules:default", session="ethome", camera="top",
                       map_b={"interact": contacts.split("=")[1].split(",")}, pool_animals=True)
    assert row["f1"] == pytest.approx(again["f1"].iloc[0])
    # the same request again is the same row
    capsys.readouterr()
    assert main(["agreement", "ethome", "top", "annotation:hum", "rules:default", "--map-b", contacts,
                 "--pool-animals", "--store"]) == 0
    assert "already stored" in capsys.readouterr().out
    assert len(AgreementTask()) == 1 and len(Agreement()) == 1 and not is_stale(task)

    # the human's labels re-imported with one bout fewer: the stored agreement is stale, and --store recomputes it
    from schemas.annotation import AnnotationSet

    (AnnotationSet & {"annotator": "hum"}).delete(prompt=False)
    short = tmp_path / "fewer.csv"
    text = (ethome / BORIS).read_text().splitlines()
    short.write_text("\n".join(text[:-2]) + "\n")
    import_annotation(short, session="ethome", camera="top", annotator="hum", ethogram="ethome", fmt="boris",
                      subjects={"adult": "eth_adult"})
    assert is_stale(task)
    assert main(["agreement", "ethome", "top", "annotation:hum", "rules:default", "--map-b", contacts,
                 "--pool-animals", "--store"]) == 0
    assert "recomputed: its sources changed" in capsys.readouterr().out
    assert not is_stale(task) and (Agreement.Behavior & task).fetch1("n_bouts_a") == 9
