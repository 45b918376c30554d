"""Nothing of the code location can be configured at launch (issue 10 §1): the run
config schema of every job, asked of Dagster itself, takes no resource configuration,
no executor configuration and no op configuration."""

from __future__ import annotations

import dagster as dg
import pytest
from dagster._config import validate_config

from lavoro_debole.orchestration.definitions import defs

JOBS = defs.get_repository_def().get_all_jobs()

FORBIDDEN = {
    "dbt_executable": {"resources": {"dbt": {"config": {"dbt_executable": "/tmp/mio-script"}}}},
    "dbt_project_dir": {
        "resources": {
            "dbt": {"config": {"project_dir": "/tmp/altro", "dbt_executable": "/tmp/mio-script"}}
        }
    },
    "io_manager_base_dir": {"resources": {"io_manager": {"config": {"base_dir": "/tmp/altrove"}}}},
    "warehouse_field": {"resources": {"warehouse": {"config": {"data_dir": "/tmp/altrove"}}}},
    "executor": {"execution": {"config": {"retries": {"disabled": {}}}}},
}


def test_there_are_jobs_to_check():
    names = {job.name for job in JOBS}
    assert {"aggiorna_magazzino", "invio_trimestrale"} <= names


def _resource_fields(job: dg.JobDefinition) -> dict[str, list[str]]:
    resources = job.run_config_schema.config_type.fields["resources"].config_type
    fields = {}
    for key, field in resources.fields.items():
        config = field.config_type.fields["config"].config_type
        fields[key] = sorted(getattr(config, "fields", {}) or {})
    return fields


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_no_resource_of_any_job_has_a_config_field(job: dg.JobDefinition):
    fields = _resource_fields(job)
    # The resources that were configurable before (issue 10) are all there, now empty.
    assert {"dbt", "io_manager", "warehouse"} <= set(fields), fields
    assert fields == {key: [] for key in fields}, fields


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
@pytest.mark.parametrize("name", list(FORBIDDEN))
def test_a_run_config_setting_a_resource_or_the_executor_is_refused(
    job: dg.JobDefinition, name: str
):
    result = validate_config(job.run_config_schema.config_type, FORBIDDEN[name])
    assert not result.success
    reasons = {error.reason.value for error in result.errors}
    assert reasons <= {"FIELD_NOT_DEFINED", "FIELDS_NOT_DEFINED"}, result.errors


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_the_empty_run_config_is_valid(job: dg.JobDefinition):
    # The refusals above are about the fields, not a schema that refuses everything.
    assert validate_config(job.run_config_schema.config_type, {}).success


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_no_op_declares_config(job: dg.JobDefinition):
    declared = {}
    for node in job.graph.iterate_op_defs():
        schema = node.config_schema
        config_type = schema.config_type if schema is not None else None
        fields = sorted(getattr(config_type, "fields", {}) or {})
        if config_type is not None and config_type.kind.value not in ("ANY", "STRICT_SHAPE"):
            declared[node.name] = config_type.kind.value
        elif fields:
            declared[node.name] = fields
    assert declared == {}


def test_launching_with_a_dbt_executable_fails_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("LAVORO_DATA_DIR", str(tmp_path))
    script = tmp_path / "mio-script"
    marker = tmp_path / "eseguito"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n", encoding="utf-8")
    script.chmod(0o700)
    job = defs.resolve_job_def("aggiorna_magazzino")
    with pytest.raises(dg.DagsterInvalidConfigError):
        job.execute_in_process(
            run_config={"resources": {"dbt": {"config": {"dbt_executable": str(script)}}}},
            instance=dg.DagsterInstance.ephemeral(),
        )
    assert not marker.exists()
    assert not (tmp_path / "warehouse.duckdb").exists()
