from tests.support.db import engine  # noqa: F401  (fixture)
