"""One BLAS thread per test process: small matrices are slower with more on a shared machine."""

from collections.abc import Iterator

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def single_blas_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield
