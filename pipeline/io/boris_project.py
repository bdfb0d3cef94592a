"""BORIS project files (``.boris``, JSON): one observation's events.

Structure read (BORIS ``config.py``, project format 7 and later):
``behaviors_conf`` (the ethogram: ``{"0": {"code": "walk", "type": "State
event"}, ...}``), ``subjects_conf`` and ``observations``: ``{id: {"type":
"MEDIA", "file": {"1": [video], "2": []}, "time offset": 0.0,
"media_info": {"fps": {video: 30.0}, "length": {video: 190.0}}, "events":
[[time, subject, code, modifier, comment(, frame index)], ...]}}``.

Events of a state behaviour alternate START and STOP per subject, behaviour
and modifier (BORIS's own rule, ``project_functions.events_start_stop``);
point behaviours are point events. Times are observation times (the time
offset is subtracted). Only media observations with one video in player 1
can be put on a recording's frames: live and image observations, and
several videos in a row, are errors. Messages count events from 1.
"""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.annotations import (
    Annotation,
    as_path,
    check_fps,
    check_fps_argument,
    check_length,
    finish,
    sort_bouts,
)
from pipeline.errors import InputError
from pipeline.io.boris import Event, pair_events


def read_boris_project(path: str | Path, *, fps: float, observation: str | None = None, n_frames: int | None = None,
                       subjects=None, behaviors=None, target_modifier: int | None = None) -> Annotation:
    """Read one observation of a BORIS project file.

    Parameters
    ----------
    path : str or Path
        The ``.boris`` file.
    fps : float
        The recording's frame rate; the video's fps in the project must agree.
    observation : str, optional
        Observation id; required when the project has several.
    n_frames, subjects, behaviors, target_modifier
        As for :func:`pipeline.io.boris.read_boris`.

    Returns
    -------
    Annotation
        ``fmt="boris_project"``, ``unit="event"``; ``behaviors`` is the project's ethogram.

    Examples
    --------
    >>> a = read_boris_project("lab.boris", fps=30, observation="DLC3")   # doctest: +SKIP
    >>> a.counts()                                                        # doctest: +SKIP
    {'interact': 10}
    """
    fps = check_fps_argument(fps)
    path = as_path(path)
    project = _load(path)
    obs_id, obs = _observation(project, path, observation)
    where = f"{path} [observation {obs_id!r}]"
    media, file_fps, seconds = _media(obs, where)
    check_fps(where, None, file_fps, fps)
    check_length(where, None, seconds, fps, n_frames)
    ethogram = _ethogram(project, path)
    offset = float(obs.get("time offset", 0.0) or 0.0)
    events = _events(obs.get("events", []), ethogram, where)
    bouts = pair_events(events, where, fps=fps, offset=offset, target_modifier=target_modifier, unit="event")
    annotation = Annotation(sort_bouts(bouts), fps=fps, source=str(path), fmt="boris_project", file_fps=file_fps,
                            media_seconds=seconds, time_offset=offset, media_file=media,
                            behaviors=tuple(ethogram), unit="event")
    return finish(annotation, n_frames=n_frames, subjects=subjects, behaviors=behaviors)


def _load(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as f:
            project = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(path, f"not a BORIS project (JSON): {e}") from e
    if not isinstance(project, dict) or not {"observations", "behaviors_conf"} <= set(project):
        raise InputError(path, "not a BORIS project: no 'observations' and 'behaviors_conf'")
    return project


def _observation(project: dict, path: Path, observation: str | None) -> tuple[str, dict]:
    ids = list(project["observations"])
    if observation is None and len(ids) == 1:
        observation = ids[0]
    if observation is None:
        raise InputError(path, f"the project has {len(ids)} observations ({', '.join(map(repr, ids)) or 'none'}): "
                               "choose one with observation=")
    if observation not in project["observations"]:
        raise InputError(path, f"no observation {observation!r} (the project has {', '.join(map(repr, ids))})")
    return observation, project["observations"][observation]


def _media(obs: dict, where: str) -> tuple[str, float | None, float | None]:
    kind = obs.get("type", "MEDIA")
    if kind != "MEDIA":
        raise InputError(where, f"a {kind} observation has no video to put its events on")
    videos = [v for v in obs.get("file", {}).get("1", []) if v]
    if len(videos) != 1:
        raise InputError(where, f"player 1 plays {len(videos)} videos ({', '.join(videos) or 'none'}): "
                                "the events must be on one video")
    info = obs.get("media_info", {})
    fps = info.get("fps", {}).get(videos[0])
    length = info.get("length", {}).get(videos[0])
    return videos[0], (float(fps) if fps else None), (float(length) if length else None)


def _ethogram(project: dict, path: Path) -> dict[str, bool]:
    """{behaviour code: is a state event}."""
    out = {}
    for entry in project["behaviors_conf"].values():
        kind = str(entry.get("type", ""))
        if "State" not in kind and "Point" not in kind:
            raise InputError(path, f"behaviour {entry.get('code')!r} has type {kind!r}: expected a State or "
                                   "Point event")
        out[str(entry["code"])] = "State" in kind
    return out


def _events(raw: list, ethogram: dict[str, bool], where: str) -> list[Event]:
    """Events in time order with START/STOP (by alternation) or POINT; ``line`` is the event's number."""
    seen: dict[tuple, int] = {}
    events = []
    order = sorted(range(len(raw)), key=lambda i: (_time(raw[i], i, where), i))
    for i in order:
        time, subject, code, modifier = raw[i][:4]
        if code not in ethogram:
            raise InputError(f"{where}, event {i + 1}", f"behaviour {code!r} is not in the project's ethogram "
                                                        f"({', '.join(map(repr, ethogram))})")
        key = (subject, code, modifier)
        status = "POINT"
        if ethogram[code]:
            status = "STOP" if seen.get(key, 0) % 2 else "START"
            seen[key] = seen.get(key, 0) + 1
        events.append(Event(float(time), str(subject), str(code), tuple(str(modifier).split("|")) if modifier else (),
                            status, i + 1))
    return events


def _time(event, i: int, where: str) -> float:
    if not isinstance(event, list | tuple) or len(event) < 4:
        raise InputError(f"{where}, event {i + 1}", f"expected [time, subject, code, modifier, ...], got {event!r}")
    try:
        return float(event[0])
    except (TypeError, ValueError):
        raise InputError(f"{where}, event {i + 1}", f"time {event[0]!r} is not a number") from None
