package specops.policies.model_test

import rego.v1

sha := "e2b442b9e9e0a0d830cf2371e54341f1e30351df991f25171f93771050631f8a"

model := {
	"kind": "Model",
	"metadata": {"name": "scorer", "labels": {"tier": "prod"}, "owner": "risk-ml"},
	"spec": {
		"version": "1.0.0",
		"artifact": {"uri": "a.onnx", "sha256": sha},
		"targets": ["cpu"],
		"trainedOn": {"dataset": "tx", "version": "2026-10"},
		"rollout": {"strategy": "canary", "steps": [10, 100], "analysis": {"slo": "scorer"}},
		"guardrails": ["ranges"],
	},
}

related := {
	"Target/cpu": {"kind": "Target", "metadata": {"name": "cpu"}, "spec": {"environment": "development"}},
	"Dataset/tx": {"kind": "Dataset", "metadata": {"name": "tx"}, "spec": {"version": "2026-10", "artifact": {"sha256": sha}}},
	"SLO/scorer": {"kind": "SLO", "metadata": {"name": "scorer"}, "spec": {"model": "scorer"}},
	"Guardrail/ranges": {"kind": "Guardrail", "metadata": {"name": "ranges"}, "spec": {"checks": [{"type": "range", "min": 0}]}},
}

create(doc, rel) := {
	"scope": "resource",
	"change": {"id": "Model/scorer", "kind": "Model", "name": "scorer", "action": "create", "before": null, "after": doc},
	"resource": doc,
	"related": rel,
	"context": {"now": "2026-11-02T10:00:00Z"},
}

test_compliant_production_model_passes if {
	inp := create(model, related)
	count(data.specops.policies.model_checksum.deny) == 0 with input as inp
	count(data.specops.policies.model_canary.deny) == 0 with input as inp
	count(data.specops.policies.model_slo.deny) == 0 with input as inp
	count(data.specops.policies.model_lineage.deny) == 0 with input as inp
	count(data.specops.policies.model_gpu_placement.deny) == 0 with input as inp
}

test_missing_checksum_denied if {
	doc := json.patch(model, [{"op": "remove", "path": "/spec/artifact/sha256"}])
	some result in data.specops.policies.model_checksum.deny with input as create(doc, related)
	result.field == "spec.artifact.sha256"
}

test_direct_rollout_denied if {
	doc := json.patch(model, [{"op": "remove", "path": "/spec/rollout"}])
	some result in data.specops.policies.model_canary.deny with input as create(doc, related)
	contains(result.msg, "not direct")
}

test_canary_without_analysis_denied if {
	doc := json.patch(model, [{"op": "remove", "path": "/spec/rollout/analysis"}])
	count(data.specops.policies.model_canary.deny) == 1 with input as create(doc, related)
}

test_dev_model_needs_no_canary if {
	doc := json.patch(model, [{"op": "remove", "path": "/spec/rollout"}, {"op": "replace", "path": "/metadata/labels", "value": {}}])
	count(data.specops.policies.model_canary.deny) == 0 with input as create(doc, related)
}

test_model_on_production_target_is_production if {
	doc := json.patch(model, [{"op": "remove", "path": "/spec/rollout"}, {"op": "replace", "path": "/metadata/labels", "value": {}}])
	rel := json.patch(related, [{"op": "replace", "path": "/Target~1cpu/spec/environment", "value": "production"}])
	count(data.specops.policies.model_canary.deny) == 1 with input as create(doc, rel)
}

test_model_without_slo_denied if {
	rel := object.remove(related, {"SLO/scorer"})
	count(data.specops.policies.model_slo.deny) == 1 with input as create(model, rel)
}

test_model_without_lineage_denied if {
	doc := json.remove(model, ["spec/trainedOn"])
	count(data.specops.policies.model_lineage.deny) == 1 with input as create(doc, related)
}

test_lineage_to_undeclared_version_denied if {
	doc := json.patch(model, [{"op": "replace", "path": "/spec/trainedOn/version", "value": "2025-01"}])
	some result in data.specops.policies.model_lineage.deny with input as create(doc, related)
	result.field == "spec.trainedOn.version"
}

test_gpu_only_model_on_cpu_target_denied if {
	doc := json.patch(model, [{"op": "add", "path": "/spec/runtime", "value": {"providers": ["CUDAExecutionProvider"]}}])
	some result in data.specops.policies.model_gpu_placement.deny with input as create(doc, related)
	result.field == "spec.targets[0]"
}

test_gpu_model_on_gpu_target_passes if {
	doc := json.patch(model, [{"op": "add", "path": "/spec/runtime", "value": {"providers": ["CUDAExecutionProvider"]}}])
	rel := json.patch(related, [{"op": "add", "path": "/Target~1cpu/spec/accelerators", "value": {"gpus": 1}}])
	count(data.specops.policies.model_gpu_placement.deny) == 0 with input as create(doc, rel)
}

update(before, after) := {
	"scope": "resource",
	"change": {"id": "Model/scorer", "kind": "Model", "name": "scorer", "action": "update", "before": before, "after": after},
	"resource": after,
	"related": related,
	"context": {"now": "2026-11-02T10:00:00Z"},
}

test_artifact_change_without_version_bump_denied if {
	after := json.patch(model, [{"op": "replace", "path": "/spec/artifact/sha256", "value": concat("", ["f", substring(sha, 1, 63)])}])
	count(data.specops.policies.model_version_bump.deny) == 1 with input as update(model, after)
}

test_artifact_change_with_version_bump_passes if {
	after := json.patch(model, [
		{"op": "replace", "path": "/spec/artifact/sha256", "value": concat("", ["f", substring(sha, 1, 63)])},
		{"op": "replace", "path": "/spec/version", "value": "1.1.0"},
	])
	count(data.specops.policies.model_version_bump.deny) == 0 with input as update(model, after)
}

test_artifact_uri_change_without_version_bump_denied if {
	after := json.patch(model, [{"op": "replace", "path": "/spec/artifact/uri", "value": "b.onnx"}])
	count(data.specops.policies.model_version_bump.deny) == 1 with input as update(model, after)
}
