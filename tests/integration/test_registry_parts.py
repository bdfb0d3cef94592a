"""Listing a master's part tables (``ethojoint db status``, row counts) sends no query (issue 13 §5)."""

import pytest

pytestmark = pytest.mark.integration


def test_listing_parts_sends_no_query(db):
    from schemas import behavior, pose, session
    from schemas.registry import parts

    connection, sent = db["connection"], []
    query = connection.query
    connection.query = lambda sql, *args, **kwargs: (sent.append(sql), query(sql, *args, **kwargs))[1]
    try:
        found = {t.__name__: [p.__name__ for p in parts(t)]
                 for t in (behavior.SocialBouts, pose.PoseEstimation, session.Session, pose.Skeleton)}
    finally:
        del connection.query  # the class's method again
    assert found == {"SocialBouts": ["Bout", "Summary", "TimeBin"], "PoseEstimation": ["Individual", "Uncertainty"],
                     "Session": ["Animal"], "Skeleton": []}
    assert sent == []
