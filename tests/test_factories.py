"""The test factories themselves: posts made one after another are in time order.

The store opens cases oldest first, and helpers such as tests/listeners/conftest.publish_cases
return the new case ids in the order of their texts. Before, a post's time was the counter's
`id % 1000` seconds, so every thousandth post in a worker was older than the one before it,
and a test's cases could swap ids depending on what ran before it.
"""

from datetime import timedelta
from itertools import pairwise

from tests.support.factories import x_post


def test_posts_made_one_after_another_are_in_time_order_past_a_thousand():
    posts = [x_post(f"post {n}") for n in range(1_200)]
    times = [p.created_at for p in posts]
    assert all(earlier < later for earlier, later in pairwise(times))
    assert times[-1] - times[0] < timedelta(minutes=1)  # near the fixed time


def test_a_given_id_keeps_its_time():
    assert x_post(post_id="1600000000000000123").created_at == x_post(post_id="1600000000000000123").created_at
