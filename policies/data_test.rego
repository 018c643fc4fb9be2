package specops.policies.data_test

import rego.v1

dataset(version, sha, pii) := {
	"kind": "Dataset",
	"metadata": {"name": "tx", "labels": {"tier": "prod"}},
	"spec": {"version": version, "artifact": {"uri": "d.csv", "sha256": sha}, "pii": pii, "schema": {"columns": [{"name": "a", "dtype": "float"}]}},
}

update(before, after) := {
	"scope": "resource",
	"change": {"id": "Dataset/tx", "kind": "Dataset", "name": "tx", "action": "update", "before": before, "after": after},
	"resource": after,
	"related": {},
	"context": {"now": "2026-11-02T10:00:00Z"},
}

test_same_version_new_data_denied if {
	inp := update(dataset("2026-10", "aa", false), dataset("2026-10", "bb", false))
	some result in data.specops.policies.dataset_immutable.deny with input as inp
	result.field == "spec.artifact.sha256"
}

test_new_version_new_data_passes if {
	inp := update(dataset("2026-10", "aa", false), dataset("2026-11", "bb", false))
	count(data.specops.policies.dataset_immutable.deny) == 0 with input as inp
}

model := {
	"kind": "Model",
	"metadata": {"name": "scorer"},
	"spec": {"version": "1.0.0", "targets": ["cpu"], "trainedOn": {"dataset": "tx", "version": "2026-10"}, "guardrails": ["in"]},
}

guard(name, stage) := {"kind": "Guardrail", "metadata": {"name": name}, "spec": {"checks": [{"type": "size", "stage": stage}]}}

create(doc, rel) := {
	"scope": "resource",
	"change": {"id": "Model/scorer", "kind": "Model", "name": "scorer", "action": "create"},
	"resource": doc,
	"related": rel,
	"context": {"now": "2026-11-02T10:00:00Z"},
}

test_pii_model_with_input_guardrail_only_denied if {
	rel := {"Dataset/tx": dataset("2026-10", "aa", true), "Guardrail/in": guard("in", "input")}
	results := data.specops.policies.pii_guardrails.deny with input as create(model, rel)
	count(results) == 1
	some result in results
	contains(result.msg, "outputs")
}

test_pii_column_counts_as_pii if {
	ds := json.patch(dataset("2026-10", "aa", false), [{"op": "add", "path": "/spec/schema/columns/0/pii", "value": true}])
	rel := {"Dataset/tx": ds}
	count(data.specops.policies.pii_guardrails.deny) == 2 with input as create(json.remove(model, ["spec/guardrails"]), rel)
}

test_pii_model_with_both_guardrails_passes if {
	doc := json.patch(model, [{"op": "replace", "path": "/spec/guardrails", "value": ["in", "out"]}])
	rel := {"Dataset/tx": dataset("2026-10", "aa", true), "Guardrail/in": guard("in", "input"), "Guardrail/out": guard("out", "output")}
	count(data.specops.policies.pii_guardrails.deny) == 0 with input as create(doc, rel)
}

test_non_pii_model_needs_no_guardrails if {
	rel := {"Dataset/tx": dataset("2026-10", "aa", false)}
	count(data.specops.policies.pii_guardrails.deny) == 0 with input as create(json.remove(model, ["spec/guardrails"]), rel)
}
