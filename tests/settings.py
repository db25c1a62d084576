"""Settings for the test suite: the real settings, with test-only secrets and eager tasks."""

import os
import tempfile

os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
os.environ.setdefault("ENDPOINT_KEYS_SECRET", "tests-only-endpoint-keys-secret")
os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="refusal-audit-tests-"))

from reviewapp.settings import *  # noqa: F403

# Unit tests run tasks in-process; tests marked `services` start a real worker instead.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HEALTH_TIMEOUT_SECONDS = 1.0
