"""The shared rate limit on a real Redis: the wait it asks for, and what happens when Redis is away."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bilan_core.errors import ConfigurationError
from bilan_core.server.ratelimit import RateLimiter, SharedRateLimiter, make_limiter
from bilan_core.settings import load_settings
from tests.fixtures.bilan_server import free_port

REDIS_URL = os.environ.get("BILAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[str]:
    """A Redis of this test's own on a free port (so it can be stopped), its URL."""
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed (tests/run.sh installs it)"
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_a_key_over_its_shared_limit_waits_until_the_window_frees_a_request():
    limiter = SharedRateLimiter(redis_url=REDIS_URL, rate=1, burst=3)
    key = f"test:{uuid.uuid4().hex}"
    assert [limiter.wait_seconds(key) for _ in range(3)] == [0, 0, 0]
    assert 1 <= limiter.wait_seconds(key) <= 3
    assert limiter.wait_seconds(f"test:{uuid.uuid4().hex}") == 0, "another key has its own limit"


def test_a_server_that_cannot_reach_redis_refuses_to_start():
    with pytest.raises(ConfigurationError, match="Redis does not answer"):
        make_limiter(rate=10, burst=10, redis_url=f"redis://127.0.0.1:{free_port()}/0")


def test_requests_go_through_when_redis_stops_answering(own_redis, caplog):
    limiter = SharedRateLimiter(redis_url=own_redis, rate=1, burst=1)
    assert limiter.wait_seconds("k") == 0
    assert limiter.wait_seconds("k") >= 1
    redis.Redis.from_url(own_redis).shutdown(nosave=True)
    assert limiter.wait_seconds("k") == 0
    assert "Redis did not answer" in caplog.text


def test_without_a_redis_url_or_with_the_limit_off_each_process_keeps_its_own():
    assert isinstance(make_limiter(rate=10, burst=10, redis_url=None), RateLimiter)
    assert isinstance(make_limiter(rate=0, burst=10, redis_url="redis://127.0.0.1:1/0"), RateLimiter)


def test_the_redis_url_is_a_secret_checked_for_its_scheme():
    settings = load_settings(redis_url="redis://:hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in repr(settings)
    with pytest.raises(ConfigurationError, match="redis://") as refused:
        load_settings(redis_url="http://:hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in str(refused.value)
