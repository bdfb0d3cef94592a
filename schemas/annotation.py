"""Human behaviour annotations: ethograms, annotators and imported annotation files.

An annotation file (BORIS, Bento, DeepEthogram, SimBA targets or a plain bout
CSV; see :mod:`pipeline.annotations`) becomes one :class:`AnnotationSet` row
with one ``Bout`` part row per labelled bout, in the recording's video frames
(end exclusive), like rule-based bouts, so the two can be compared
(:mod:`schemas.agreement`) and reported alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import datajoint as dj

from pipeline.annotation_rows import parse_behaviors
from pipeline.errors import InputError
from pipeline.manifest_values import safe_id

from . import recording, session  # noqa: F401  (named by the table definitions)

schema = dj.Schema()


@schema
class Ethogram(dj.Manual):
    """One row: a named vocabulary of behaviours (its ``Behavior`` parts)."""

    definition = """
    ethogram : varchar(64)
    ---
    description = '' : varchar(1024)
    """

    class Behavior(dj.Part):
        """One row: one behaviour of the vocabulary, solo or directed (an agent toward a target)."""

        definition = """
        -> master
        behavior : varchar(32)
        ---
        directed : bool
        """

    @classmethod
    def add(cls, name: str, behaviors: Iterable[str], *, description: str = "") -> str:
        """Insert an ethogram from ``["name", "name:directed", ...]``; the same one again is a no-op.

        An ethogram of this name with other behaviours is an error: it is never
        replaced silently.
        """
        name = safe_id(name, "ethogram", "ethogram", "ethogram")
        wanted = parse_behaviors(name, behaviors)
        if cls & {"ethogram": name}:
            have = {r["behavior"]: bool(r["directed"]) for r in (cls.Behavior & {"ethogram": name}).to_dicts()}
            if have != wanted:
                raise InputError(f"ethogram {name!r}", f"exists with other behaviours ({_describe(have)}); "
                                                       f"asked for {_describe(wanted)}: choose another name")
            return name
        with cls.connection.transaction:
            cls.insert1({"ethogram": name, "description": description})
            cls.Behavior.insert([{"ethogram": name, "behavior": b, "directed": d} for b, d in wanted.items()])
        return name


def _describe(behaviors: Mapping[str, bool]) -> str:
    return ", ".join(f"{b}:{'directed' if d else 'solo'}" for b, d in sorted(behaviors.items()))


@schema
class Annotator(dj.Manual):
    """One row: one person (or program) who labels behaviour."""

    definition = """
    annotator : varchar(64)
    ---
    full_name = '' : varchar(255)
    """


@schema
class AnnotationSet(dj.Manual):
    """One row: one annotation file by one annotator for one recording, as imported.

    ``provenance`` keeps every choice made at import: the reader and its
    options, the subject and behaviour mappings, and what the file declares
    (fps, media length, time offset, media file).
    """

    definition = """
    -> recording.VideoRecording
    -> Annotator
    label_set = 'main' : varchar(64)    # e.g. a second round of labels
    ---
    -> Ethogram
    file_path : varchar(512)            # relative to a data root
    file_sha256 : char(64)
    file_format : varchar(16)           # boris | boris_project | bento | deepethogram | simba | csv
    fps : float64                       # the recording's, which turned the file's times into frames
    n_bouts : int32
    provenance : json
    """

    class Bout(dj.Part):
        """One row: one labelled bout (or point event) of one behaviour."""

        definition = """
        -> master
        bout_index : int32
        ---
        behavior : varchar(32)          # a behaviour of the set's ethogram
        -> [nullable] session.Session.Animal.proj(agent="subject")   # null: the file names no subject
        -> [nullable] session.Session.Animal.proj(target="subject")  # null: solo, or no target given
        start_frame : int32             # video frame
        end_frame : int32               # exclusive; a point event is one frame
        is_point : bool
        start_s : float64               # start_frame / fps
        duration_s : float64
        line = null : int32             # where in the file (line, or event for a BORIS project)
        """

