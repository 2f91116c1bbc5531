"""The portal's settings plus a bare "hello" view used as the benchmark baseline."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
