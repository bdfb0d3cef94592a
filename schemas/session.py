"""Sessions and the animals that took part in them."""

import datajoint as dj

from . import subject

schema = dj.Schema()


@schema
class Session(dj.Manual):
    """One row: one experimental session (one arena, one time, 1..N animals)."""

    definition = """
    session : varchar(64)
    ---
    session_datetime : datetime
    experimenter = '' : varchar(64)
    arena = '' : varchar(64)
    session_notes = '' : varchar(1024)
    """

    class Animal(dj.Part):
        """One row: one subject taking part in the session, with its role."""

        definition = """
        -> master
        -> subject.Subject
        ---
        role = '' : varchar(32)                  # e.g. resident, intruder
        session_age_group = null : varchar(32)   # overrides the subject's age group for this session
        """


def animals():
    """Session.Animal with subject attributes and the age group in force.

    The age group at a session is the session's override when given, else
    the subject's.
    """
    return (Session.Animal * subject.Subject).proj(
        "role", "sex", "strain", "genotype",
        age_group="COALESCE(session_age_group, age_group)",
    )
