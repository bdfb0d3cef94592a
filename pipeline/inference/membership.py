"""Which videos' frames a model was trained on: from its labels and the training split it recorded.

SLEAP (sleap-nn)
    The labelled frames are the user-labelled frames of the labels file;
    sleap-nn saves the split it trained with as ``labels_gt.train.0.slp``
    and ``labels_gt.val.0.slp`` in the model folder.  A frame in the train
    file was *used*; a labelled frame that is not is *held out*.  A model
    folder without these files counts every labelled frame as used (said
    in ``split``).  A frame's video is its video's file name (for a
    ``.pkg.slp`` with embedded images, the source video's).
DeepLabCut
    The labelled frames are ``labeled-data/<video stem>/img*.png`` rows of
    the project's training dataset; the shuffle's train / test split is
    DeepLabCut's own (``DLCLoader.split``).  A frame's video is the stem.

:func:`match_recordings` then finds the recording of each video by its
file name (SLEAP) or stem (DeepLabCut).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from pipeline.errors import InputError


def labelled_videos(engine: str, labels_path, model_paths, *, shuffle: int = 1) -> dict:
    """``{"videos": {name: {"used": n, "held_out": m}}, "split": how the split was known}``.

    Parameters
    ----------
    engine : {"sleap", "deeplabcut"}
    labels_path : path
        The LabeledFrameSet's file (SLEAP) or the trained project's ``config.yaml`` (DeepLabCut).
    model_paths : list of path
        The trained model's local folders (SLEAP) or ``[config.yaml]`` (DeepLabCut).

    Examples
    --------
    >>> labelled_videos("sleap", "minimal_instance.pkg.slp", [model_dir])   # doctest: +SKIP
    {'videos': {'centered_pair_low_quality.mp4': {'used': 1, 'held_out': 0}}, 'split': 'sleap-nn ...'}
    """
    if engine == "sleap":
        return _sleap(Path(labels_path), [Path(p) for p in model_paths])
    if engine == "deeplabcut":
        return _dlc(Path(model_paths[0]), shuffle)
    raise ValueError(f"engine must be 'sleap' or 'deeplabcut', got {engine!r}")


def _sleap(labels_path: Path, model_dirs: list[Path]) -> dict:
    labelled = _sleap_frames(labels_path)
    split_dir = next((d for d in model_dirs if (d / "labels_gt.train.0.slp").is_file()), None)
    if split_dir is None:
        used, how = labelled, "no training split in the model folder: every labelled frame counts as used"
    else:
        used = _sleap_frames(split_dir / "labels_gt.train.0.slp")
        how = f"sleap-nn's training split ({split_dir.name}/labels_gt.train.0.slp)"
    return {"videos": _count(labelled | used, used), "split": how}


def _sleap_frames(path: Path) -> set[tuple[str, int]]:
    """(video file name, frame index) of the user-labelled frames of a SLEAP labels file."""
    import sleap_io as sio

    try:
        labels = sio.load_slp(str(path))
    except Exception as err:  # sleap-io raises many types for a bad file
        raise InputError(path, f"not a readable SLEAP labels file ({type(err).__name__}: {err})") from err
    out = set()
    for lf in labels.labeled_frames:
        if lf.user_instances:
            source = getattr(lf.video, "source_video", None)
            video = lf.video if source is None else source  # (a Video of unknown length is falsy)
            out.add((PurePosixPath(str(video.filename).replace("\\", "/")).name, int(lf.frame_idx)))
    return out


def _dlc(config: Path, shuffle: int) -> dict:
    import deeplabcut as dlc

    try:
        loader = dlc.pose_estimation_pytorch.data.DLCLoader(config=str(config), shuffle=shuffle, trainset_index=0)
        names = [_dlc_video(i) for i in loader.df.index]
        train = list(loader.split.get("train", []))
    except Exception as err:
        raise InputError(config, f"cannot read the shuffle's training split ({type(err).__name__}: {err})") from err
    labelled = {(v, n) for n, v in enumerate(names)}
    used = {(names[i], i) for i in train}
    return {"videos": _count(labelled, used), "split": f"DeepLabCut's shuffle {shuffle} train / test split"}


def _dlc_video(index) -> str:
    """The video stem of a DLC row index (``labeled-data/<stem>/img0050.png``, as a path or a tuple)."""
    parts = index if isinstance(index, tuple) else PurePosixPath(str(index).replace("\\", "/")).parts
    return str(parts[-2]) if len(parts) >= 2 else str(parts[0])


def _count(labelled: set, used: set) -> dict:
    videos: dict[str, dict] = {}
    for video, _ in sorted(labelled):
        videos.setdefault(video, {"used": 0, "held_out": 0})
    for video, frame in labelled:
        videos[video]["used" if (video, frame) in used else "held_out"] += 1
    return videos


def match_recordings(videos: dict, recordings: list[dict], *, engine: str) -> tuple[list[dict], dict]:
    """(matched rows ``dict(recording, used, held_out)``, unmatched ``{video: counts}``).

    ``recordings`` are dicts with ``video_path``; a SLEAP video matches by
    file name, a DeepLabCut one by stem.

    Raises
    ------
    InputError
        A video name that matches several recordings (the message names them).

    Examples
    --------
    >>> match_recordings({"a.mp4": {"used": 3, "held_out": 1}},
    ...                  [{"session": "s1", "video_path": "v/a.mp4"}, {"session": "s2", "video_path": "v/b.mp4"}],
    ...                  engine="sleap")
    ([{'session': 's1', 'video_path': 'v/a.mp4', 'used': 3, 'held_out': 1}], {})
    """
    def name(path: str) -> str:
        p = PurePosixPath(str(path).replace("\\", "/"))
        return p.name if engine == "sleap" else p.stem

    matched, unmatched = [], {}
    for video, counts in videos.items():
        hits = [r for r in recordings if r.get("video_path") and name(r["video_path"]) == video]
        if len(hits) > 1:
            raise InputError(f"labelled video {video!r}", "matches several recordings: "
                                                          + ", ".join(sorted(h["video_path"] for h in hits)))
        if hits:
            matched.append(dict(hits[0], **counts))
        else:
            unmatched[video] = counts
    return matched, unmatched
