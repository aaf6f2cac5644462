"""The conditional permutation engine: the ranked evaluation (shared sorted sums per
cardinality, no (n, R) matrix) against the dense one and against esda's p-value definitions;
the draws themselves (never the site itself, uniform over the others); islands and mixed
cardinalities; unequal weights; seeding."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from geo.stats.permutation import ALTERNATIVES, MAX_RANKED_CORRECTIONS, crand, permuted_ids, pseudo_p_values

warnings.simplefilter("ignore")


def _random_graph(n, seed, island_every=0, max_k=9):
    """Symmetric binary graph with mixed cardinalities (1 .. max_k) and optional islands."""
    rng = np.random.default_rng(seed)
    rows, cols = [], []
    for i in range(n):
        if island_every and i % island_every == 0:
            continue
        for j in rng.choice(n, rng.integers(1, max_k // 2 + 1), replace=False):
            if j != i and not (island_every and j % island_every == 0):
                rows += [i, j]
                cols += [j, i]
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    m.data[:] = 1.0
    return m


def _row_standardised(m):
    rs = np.asarray(m.sum(axis=1)).ravel()
    return sp.csr_matrix(sp.diags(np.divide(1.0, rs, out=np.zeros_like(rs), where=rs > 0)) @ m)


def _cases():
    n = 700
    g = _random_graph(n, 1, island_every=97)
    rng = np.random.default_rng(2)
    counts = rng.poisson(2.0, n).astype(float)
    normal = rng.normal(size=n)
    z = (counts - counts.mean()) / counts.std()
    gi = g + sp.eye(n)  # Gi*: binary with self weight 1
    # unequal weights in some rows (inverse-distance-like): those rows go dense
    uneq = g.copy().tolil()
    for i in range(0, n, 5):
        for k, j in enumerate(uneq.rows[i]):
            uneq[i, j] = 1.0 / (1 + k)
    uneq = sp.csr_matrix(uneq)
    scale_mixed = z * 3.0
    scale_mixed[::50] = 0.0  # statistic identically zero at some sites (local Moran, z_i = 0)
    return {
        "gi_counts": (counts, gi, 1.0 / counts.sum()),
        "gi_float": (np.abs(normal), gi, 1.0 / np.abs(normal).sum()),
        "moran_counts": (z, _row_standardised(g), scale_mixed),
        "moran_float": (normal, _row_standardised(g), normal * 2.0),
        "unequal": (counts, uneq, -1.0),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_ranked_equals_dense_bit_for_bit(case):
    values, m, scale = _cases()[case]
    for alt in ALTERNATIVES:
        a = crand(values, m, scale, 499, seed=4, alternative=alt)
        b = crand(values, m, scale, 499, seed=4, alternative=alt, evaluation="dense")
        assert np.array_equal(a.p_sim, b.p_sim), alt
        assert np.allclose(a.ei_sim, b.ei_sim, rtol=1e-12, atol=1e-15)
        assert np.allclose(a.sei_sim, b.sei_sim, rtol=1e-12, atol=1e-15)
        spread = a.sei_sim > 0  # islands: the ranked sd is exactly 0, the dense one ~1e-17
        assert np.allclose(a.z_sim[spread], b.z_sim[spread], rtol=1e-9, atol=1e-9, equal_nan=True)
        assert np.all((a.p_sim > 0) & np.isfinite(a.p_sim))


def test_p_values_are_esdas_definitions_on_the_simulations():
    """With scale 1 the simulations are the permuted lags themselves: every alternative equals
    esda's calculate_significance on them (integer data: many ties)."""
    from esda.significance import calculate_significance

    values, m, _ = _cases()["gi_counts"]
    observed = m @ values
    for alt in ALTERNATIVES:
        r = crand(values, m, 1.0, 299, seed=8, alternative=alt, keep=True)
        assert np.array_equal(r.p_sim, pseudo_p_values(observed, r.sims, alt)), alt
        assert np.allclose(r.p_sim, calculate_significance(observed, r.sims, alt), rtol=0, atol=1e-15), alt
        assert np.allclose(r.ei_sim, r.sims.mean(axis=1), rtol=1e-12)
        assert np.allclose(r.sei_sim, r.sims.std(axis=1), rtol=1e-12)


def test_draws_never_hit_the_site_and_are_uniform_over_the_others():
    """Values 2**j make every permuted lag decode to the exact set of sites drawn."""
    n, R = 40, 6000
    m = _random_graph(n, 3, island_every=13, max_k=8)
    k = np.diff(m.indptr)
    assert len(set(k)) >= 3 and (k == 0).any()
    r = crand(2.0 ** np.arange(n), m, 1.0, R, seed=11, keep=True)
    bits = ((r.sims.astype(np.int64)[:, :, None] >> np.arange(n)) & 1).astype(bool)  # (n, R, n)
    assert (bits.sum(axis=2) == k[:, None]).all()  # k distinct sites each time
    assert not bits[np.arange(n), :, np.arange(n)].any()  # never the site itself
    freq = bits.sum(axis=1)  # (n, n): how often i drew j
    for i in np.flatnonzero(k):
        others = np.delete(freq[i], i)
        expect = R * k[i] / (n - 1)
        sd = np.sqrt(expect * (1 - k[i] / (n - 1)))
        assert np.max(np.abs(others - expect)) < 5 * sd, i
    assert (freq[k == 0] == 0).all()


def test_islands_and_small_n_route_to_dense_with_the_same_answer():
    # n small: sites draw themselves often (> MAX_RANKED_CORRECTIONS of 999) -> dense rows
    n = 25
    m = _random_graph(n, 5, island_every=6, max_k=12)
    x = np.random.default_rng(1).poisson(3, n).astype(float)
    assert (np.diff(m.indptr) == 0).any()
    expected_self_draws = 999 * np.diff(m.indptr).max() / (n - 1)
    assert expected_self_draws > MAX_RANKED_CORRECTIONS
    for alt in ("two-sided", "directed"):
        a = crand(x, m + sp.eye(n), 1 / x.sum(), 999, seed=2, alternative=alt)
        b = crand(x, m + sp.eye(n), 1 / x.sum(), 999, seed=2, alternative=alt, evaluation="dense")
        assert np.array_equal(a.p_sim, b.p_sim)
    isl = np.flatnonzero(np.diff(m.indptr) == 0)
    # an island's statistic never changes: every simulation ties with it
    r = crand(x, m + sp.eye(n), 1 / x.sum(), 99, seed=2, alternative="greater", keep=True)
    assert (r.p_sim[isl] == 1.0).all() and (r.sei_sim[isl] == 0).all()
    assert np.allclose(r.sims[isl], (x[isl] / x.sum())[:, None])


def test_seeded_and_deterministic():
    values, m, scale = _cases()["moran_counts"]
    a = crand(values, m, scale, 199, seed=3)
    b = crand(values, m, scale, 199, seed=3)
    c = crand(values, m, scale, 199, seed=4)
    assert np.array_equal(a.p_sim, b.p_sim) and np.array_equal(a.z_sim, b.z_sim, equal_nan=True)
    assert not np.array_equal(a.p_sim, c.p_sim)


def test_permuted_ids_rows_are_uniform_ordered_samples():
    for n in (30, 5000):  # argpartition branch and rejection branch
        ids = permuted_ids(n, 6, 4000, seed=1)
        assert ids.shape == (4000, 6) and ids.min() >= 0 and ids.max() <= n - 2
        assert all(len(set(row)) == 6 for row in ids[:500])
        if n == 30:
            # the first id is uniform over 0 .. n-2 (a leading slot is what a k=1 site uses)
            f = np.bincount(ids[:, 0], minlength=n - 1)
            assert np.max(np.abs(f - 4000 / (n - 1))) < 5 * np.sqrt(4000 / (n - 1))
