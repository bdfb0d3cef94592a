"""Bookkeeping of the running workers: one heartbeat row per live ``ethojoint worker`` process.

Workers stamp their row every few seconds from a thread of their own (see
:mod:`workers.heartbeat`); a reservation in a jobs table whose worker has not
stamped for longer than the stale limit is an orphan (the worker died), and
any worker puts it back to ``pending``.
"""

import datajoint as dj

schema = dj.Schema()


@schema
class WorkerHeartbeat(dj.Manual):
    """One running worker process: where it runs, what it serves, the job it makes and its last beat.

    Times are the database server's clock (``CURRENT_TIMESTAMP``), as in the
    jobs tables, so that workers on machines with skewed clocks agree.
    """

    definition = """
    host : varchar(255)            # the machine, as the jobs tables record it (platform.node())
    pid : int32                    # the worker's process id on that machine
    ---
    stage : varchar(255)           # the stage it serves, e.g. 'quality'
    started_time : datetime(3)     # when the worker started (server clock)
    beat_time : datetime(3)        # its last heartbeat (server clock)
    job_table = "" : varchar(255)  # the table of the job it is making ('' when idle)
    job_key = null : json          # that job's key
    """
