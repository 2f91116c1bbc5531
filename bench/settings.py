"""The portal's settings plus a bare "hello" view used as the benchmark baseline."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

# 50 clients on one address post the form thousands of times: the limits still count every post, never refuse it.
RATE_LIMIT_SUBMIT = RATE_LIMIT_SUBMIT_PER_EMAIL = RATE_LIMIT_PREFIX_CHECK = "1000000/h"
