"""Subjects: the animals, with the attributes groups are formed from."""

import datajoint as dj

schema = dj.Schema()


@schema
class Subject(dj.Manual):
    """One row: one animal (id, sex, age group, strain, genotype)."""

    definition = """
    subject : varchar(32)              # lab's animal id
    ---
    sex : enum('F', 'M', 'U')
    age_group : varchar(32)            # e.g. 'young', 'adult', 'P60'
    strain = '' : varchar(64)
    genotype = '' : varchar(64)
    date_of_birth = null : date
    subject_notes = '' : varchar(1024)
    """
