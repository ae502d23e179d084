"""examples/dask_logistic.py, small, on a real ``dask.distributed.LocalCluster``
(processes, 2 workers): the generated ``array_api`` gradient, unchanged, drives gradient
descent on chunked Dask data and gives NumPy's weights; each call is one lazy graph."""

from __future__ import annotations

import numpy as np
import pytest

import s2sad
from tests import test_numpy as T
from tests.srcmod import load_example

pytest.importorskip("array_api_compat", reason="pip install 's2sad[distributed]'")


@pytest.mark.slow
def test_logistic_regression_on_a_local_cluster_matches_numpy():
    distributed = pytest.importorskip("distributed", reason="needs dask.distributed: "
                                      "pip install 's2sad[distributed]'")
    ex = load_example("dask_logistic")
    X, y = ex.make_data(6000, 5, 1000, seed=3)
    value, grad = ex.value_and_grad(np.zeros(5), X, y)
    assert type(grad).__module__.startswith("dask") and X.numblocks == (6, 1)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  memory_limit="500MB", dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        computes = []

        def compute(*lazy):
            computes.append(len(lazy))
            return client.gather(client.compute(list(lazy)))

        w = ex.fit(X, y, compute, method="gd", steps=8, rate=2.0)
        Xn, yn = client.compute([X, y], sync=True)
    assert computes == [2] * 8  # one graph (loss and gradient) per step
    g = s2sad.grad(ex.loss)  # the NumPy target, on the same numbers
    w_numpy = np.zeros(5)
    for _ in range(8):
        w_numpy = w_numpy - 2.0 * g(w_numpy, Xn, yn)
    np.testing.assert_allclose(w, w_numpy, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ex.value_and_grad(w, X, y)[1].compute(scheduler="sync"),
                               T.fd_grad(ex.loss, (w, Xn, yn), 0), rtol=T.RTOL, atol=T.ATOL)
