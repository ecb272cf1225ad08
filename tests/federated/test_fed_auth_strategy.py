"""Message authentication, FedAvg aggregation order, the FedProx term, impostor sites."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from fed_helpers import tiny_config

from oncofusion.errors import ConfigError
from oncofusion.federated.auth import MAC_KEY, NONCE_KEY, AuthenticationError, sign, verify
from oncofusion.federated.config import FederatedConfig, load_federated_config
from oncofusion.federated.local import ProximalObjective

SECRET = b"0123456789abcdef0123456789abcdef-federation"


def _signed(fields, arrays, secret=SECRET):
    return {**fields, MAC_KEY: sign(secret, "site", "fit", fields, arrays)}


def test_mac_round_trip_and_every_tampering_is_caught() -> None:
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(2)]
    fields = {NONCE_KEY: "abc", "round": 3, "site": "site_1", "train_loss": 0.25}
    msg = _signed(fields, arrays)
    verify(SECRET, "site", "fit", msg, arrays, nonce="abc")
    changed = [arrays[0].copy(), arrays[1]]
    changed[0][0, 0] += 1e-3
    cases = [
        (dict(msg), changed, "abc", "failed authentication"),  # altered weights
        ({**msg, "train_loss": 0.2}, arrays, "abc", "failed authentication"),  # altered metric
        (dict(msg), arrays, "xyz", "nonce mismatch"),  # a reply to another request (replay)
        ({k: v for k, v in msg.items() if k != MAC_KEY}, arrays, "abc", "no MAC"),
        (_signed(fields, arrays, b"another-secret-another-secret-xx"), arrays, "abc", "failed authentication"),
    ]
    for m, arr, nonce, why in cases:
        with pytest.raises(AuthenticationError, match=why):
            verify(SECRET, "site", "fit", m, arr, nonce=nonce)
    with pytest.raises(AuthenticationError):  # a site's MAC does not pass as the server's
        verify(SECRET, "server", "fit", msg, arrays)


def test_secure_by_default(tmp_path) -> None:
    with pytest.raises(ConfigError, match="secure by default"):
        FederatedConfig().check_secure("server")
    with pytest.raises(ConfigError, match="auth.secret_file"):
        FederatedConfig(tls={"ca_cert": tmp_path / "ca.pem"}).check_secure("client")
    FederatedConfig(insecure=True).check_secure("server")
    (tmp_path / "short.secret").write_text("abc")
    (tmp_path / "fed.yaml").write_text("auth: {secret_file: short.secret}\nrounds: 3\n")
    cfg = load_federated_config(tmp_path / "fed.yaml", {"rounds": None, "strategy": "fedprox"})
    assert cfg.rounds == 3 and cfg.strategy == "fedprox"
    assert cfg.auth.secret_file == tmp_path / "short.secret"  # relative to the YAML
    with pytest.raises(ConfigError, match="at least 32"):
        cfg.auth.secret()
    with pytest.raises(ConfigError, match="strategy"):
        load_federated_config(None, {"strategy": "fedsgd"})


def test_proximal_term_is_mu_half_squared_distance() -> None:
    net = torch.nn.Linear(3, 2)
    base = lambda out, batch: {"loss": out.sum() * 0}
    obj = ProximalObjective(base, net, mu=0.5)
    assert float(obj(net(torch.ones(1, 3)), {})["loss"].detach()) == 0.0
    with torch.no_grad():
        net.weight.add_(0.1)  # 6 entries moved by 0.1
    terms = obj(net(torch.ones(1, 3)), {})
    assert float(terms["proximal"].detach()) == pytest.approx(6 * 0.01, rel=1e-5)
    assert float(terms["loss"].detach()) == pytest.approx(0.25 * 6 * 0.01, rel=1e-5)
    terms["loss"].backward()  # the gradient pulls towards the global weights: mu * (w - w_t)
    np.testing.assert_allclose(net.weight.grad.numpy(), np.full((2, 3), 0.5 * 0.1), rtol=1e-5)


def test_fedavg_is_the_example_weighted_mean_in_a_fixed_site_order() -> None:
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters, parameters_to_ndarrays

    from oncofusion.federated.strategy import Coordinator, build_strategy

    c = Coordinator(tiny_config(), FederatedConfig(insecure=True), log_path=__import__("pathlib").Path("/dev/null"))
    strategy = build_strategy(c)
    assert type(strategy).__mro__[2].__name__ == "FedAvg"

    class Proxy:
        def __init__(self, cid):
            self.cid = cid

    def res(site, value, n):
        return (Proxy(site), FitRes(Status(Code.OK, ""), ndarrays_to_parameters([np.full(3, value, np.float32)]), n,
                                    {"site": site, "train_loss": 1.0}))

    results = [res("b", 4.0, 30), res("a", 1.0, 10)]
    params, _ = strategy.aggregate_fit(1, results, [])
    np.testing.assert_allclose(parameters_to_ndarrays(params)[0], np.full(3, (10 * 1 + 30 * 4) / 40))
    assert [r.metrics["site"] for _, r in results] == ["b", "a"]  # the caller's list is not reordered
    prox = build_strategy(Coordinator(tiny_config(), FederatedConfig(insecure=True, strategy="fedprox", mu=0.3),
                                      log_path=__import__("pathlib").Path("/dev/null")))
    assert prox.proximal_mu == 0.3 and type(prox).__mro__[2].__name__ == "FedProx"


def test_an_impostor_site_is_rejected_and_the_honest_sites_train_on(crlm_sites, tmp_path) -> None:
    from flwr.server import Server, SimpleClientManager

    from oncofusion.federated.client import SiteClient
    from oncofusion.federated.local import SiteTrainer
    from oncofusion.federated.simulate import InProcessClientProxy
    from oncofusion.federated.sites import site_cohorts
    from oncofusion.federated.strategy import Coordinator, build_strategy

    cfg = tiny_config()
    fed = FederatedConfig(rounds=1, min_sites=2)
    c = Coordinator(cfg, fed, tmp_path / "rounds.csv", secret=SECRET)
    manager = SimpleClientManager()
    trainers = {}
    for name, sub in site_cohorts(crlm_sites).items():
        secret = b"not-the-federation-secret-at-all-" if name == "site_2" else SECRET
        trainers[name] = SiteTrainer(name, sub, cfg, seed=0)
        manager.register(InProcessClientProxy(name, SiteClient(trainers[name], secret).to_client()))
    server = Server(client_manager=manager, strategy=build_strategy(c))
    server.set_max_workers(1)
    server.fit(num_rounds=1, timeout=None)
    assert sorted(c.sites) == ["site_1", "site_3"]
    assert any("site_2" in r and "properties" in r for r in c.rejected)
    sites_logged = {r["site"] for r in c.rows if r["scope"] == "site"}
    assert sites_logged == {"site_1", "site_3"}
    assert not hasattr(trainers["site_2"], "net"), "an unauthenticated site must never receive the global weights"
    assert hasattr(trainers["site_1"], "net")
