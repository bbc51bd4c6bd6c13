"""cluster.yaml: Ray's own schema accepts it, and it has the node types the farm needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

CLUSTER_YAML = Path(__file__).resolve().parent.parent / "cluster.yaml"


@pytest.fixture(scope="module")
def cfg() -> dict:
    return yaml.safe_load(CLUSTER_YAML.read_text())


def test_ray_schema_accepts_it(cfg):
    util = pytest.importorskip("ray.autoscaler._private.util")
    util.validate_config(util.prepare_config(dict(cfg)))


def test_head_gpu_and_cpu_worker_types(cfg):
    assert cfg["provider"]["type"] == "aws"
    types = cfg["available_node_types"]
    head = types[cfg["head_node_type"]]
    assert not head["node_config"]["InstanceType"].startswith(("g", "p"))  # a CPU head
    gpu = [t for t in types.values() if t.get("resources", {}).get("GPU", 0) >= 1]
    assert gpu and all(t["node_config"]["InstanceType"].startswith("g6.") for t in gpu)  # L4: NVENC
    cpu_workers = [n for n, t in types.items() if n != cfg["head_node_type"] and not t.get("resources", {}).get("GPU")]
    assert cpu_workers
    for name, t in types.items():
        if name == cfg["head_node_type"]:
            continue
        assert 0 <= t["min_workers"] <= t["max_workers"] <= cfg["max_workers"]
        assert t["node_config"]["ImageId"].startswith("ami-")


def test_autoscaling_bounds_setup_and_shared_storage(cfg):
    assert cfg["idle_timeout_minutes"] > 0 and cfg["max_workers"] >= 1
    setup = "\n".join(cfg["setup_commands"])
    assert "pip install" in setup and "-e ~/reel-farm" in setup
    assert "/mnt/farm" in setup  # the workspace every node shares
    assert "." in cfg["file_mounts"].values()
    assert any("ray start --head" in c for c in cfg["head_start_ray_commands"])
    assert any("--metrics-export-port" in c for c in cfg["head_start_ray_commands"])
    assert any("$RAY_HEAD_IP" in c for c in cfg["worker_start_ray_commands"])
