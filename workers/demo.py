"""``ethojoint demo``: a synthetic cohort, end to end, on the configured database."""

from __future__ import annotations

from pathlib import Path

from pipeline.manifest_load import dump_manifest


def build_manifest(cohort, folder: Path, *, labels=()) -> Path:
    """Write each session's pose file and one manifest for the whole cohort.

    ``labels``: behaviours whose scripted episodes are also written as a BORIS
    file per session (annotator ``script``, ethogram ``scripted``), as if a
    human had labelled them, for classifier training.
    """
    from pipeline.synthetic import EDGES, KEYPOINTS, write_session_files

    sessions = []
    for sim in cohort.sessions:
        files = write_session_files(sim.simulation, folder / "pose", formats=("sleap_h5",))
        tracks = dict(zip(sim.simulation.pose.individuals, sim.subjects))
        annotations = [_labels(sim, folder, labels, tracks)] if labels else []
        sessions.append({
            "session": sim.session_id,
            "datetime": str(sim.datetime),
            "experimenter": sim.experimenter,
            "arena": sim.arena,
            "animals": [{"subject": s, "role": r} for s, r in zip(sim.subjects, sim.roles)],
            "recordings": [{
                "camera": "top", "fps": sim.simulation.fps, "mm_per_px": sim.simulation.mm_per_px,
                "pose": [{"source": "sleap", "file": str(Path(files["sleap_h5"]).relative_to(folder)),
                          "skeleton": "mouse6",
                          "tracks": tracks}],
                **({"annotations": annotations} if annotations else {}),
            }],
        })
    manifest = {
        "skeletons": [{"skeleton": "mouse6", "keypoints": list(KEYPOINTS), "edges": [list(e) for e in EDGES]}],
        "subjects": [{k: (str(v) if k == "date_of_birth" else v) for k, v in s.items()} for s in cohort.subjects],
        "sessions": sessions,
    }
    if labels:
        manifest["ethograms"] = [{"ethogram": "scripted", "behaviors": [f"{b}:directed" for b in labels]}]
    path = folder / "manifest.yaml"
    path.write_text(dump_manifest(manifest))
    return path


def _labels(sim, folder: Path, behaviors, tracks: dict) -> dict:
    """Write one session's scripted episodes of ``behaviors`` as a BORIS file; its manifest entry."""
    from pipeline.annotations import Annotation, Bout
    from pipeline.io.boris import write_boris

    s = sim.simulation
    eps = s.episodes[s.episodes["behavior"].isin(list(behaviors))]
    bouts = tuple(Bout(r.behavior, r.agent, r.target, int(r.start_frame), int(r.end_frame))
                  for r in eps.itertuples())
    path = folder / "labels" / f"{sim.session_id}_boris.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_boris(Annotation(bouts, fps=s.fps, source="-", fmt="boris", n_frames=s.n_frames), path)
    return {"file": str(path.relative_to(folder)), "format": "boris", "annotator": "script", "ethogram": "scripted",
            "subjects": tracks, "options": {"target_modifier": 1}}


def check_demo_args(args) -> None:
    """Refuse arguments the demo cannot run with, before anything is written (folder or rows).

    Raises
    ------
    InputError
        ``--sessions-per-group`` below 1 or ``--seed`` negative.
    """
    from pipeline.errors import InputError

    if args.sessions_per_group < 1:
        raise InputError("--sessions-per-group", f"must be 1 or more (one session per group at least), "
                                                 f"got {args.sessions_per_group}")
    if args.seed < 0:
        raise InputError("--seed", f"must be 0 or more, got {args.seed}")


def run_demo(args) -> int:
    import schemas
    from pipeline.synthetic import simulate_cohort
    from schemas import behavior
    from schemas.config import load_settings
    from schemas.ingest import ingest
    from workers.report import make_report

    check_demo_args(args)
    out = Path(args.out).absolute()
    out.mkdir(parents=True, exist_ok=True)
    settings = load_settings()
    settings.data_roots = [out, *settings.data_roots]
    schemas.activate(args.prefix, settings=settings)

    cohort = simulate_cohort(seed=args.seed, sessions_per_group=args.sessions_per_group)
    manifest = build_manifest(cohort, out)
    print(f"synthetic cohort: {len(cohort.subjects)} subjects, {len(cohort.sessions)} sessions -> {manifest}")
    counts = ingest(manifest)
    print("new rows: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    behavior.SocialBouts.populate(display_progress=True)
    make_report(group_by=["sex", "age_group"], out=out / "report")
    make_report(group_by=["sex", "age_group"], first_minutes=3, out=out / "report_first3min")
    return 0
