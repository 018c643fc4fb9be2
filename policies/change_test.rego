package specops.policies.change_test

import rego.v1

prod_model := {"kind": "Model", "metadata": {"name": "scorer", "labels": {"tier": "prod"}, "owner": "risk-ml"}, "spec": {"targets": ["cpu"]}}

change(action, before, after) := {
	"scope": "resource",
	"change": {"id": "Model/scorer", "kind": "Model", "name": "scorer", "action": action, "before": before, "after": after},
	"resource": object.get({"x": after}, "x", before),
	"related": {},
	"context": {"now": "2026-11-02T10:00:00Z"},
}

test_delete_of_production_needs_owner_approval if {
	results := data.specops.policies.production_change_approval.approval with input as change("delete", prod_model, null)
	count(results) == 1
	some result in results
	result.approvers == ["risk-ml"]
}

test_replace_of_production_needs_approval if {
	count(data.specops.policies.production_change_approval.approval) == 1 with input as change("replace", prod_model, prod_model)
}

test_update_needs_no_approval if {
	count(data.specops.policies.production_change_approval.approval) == 0 with input as change("update", prod_model, prod_model)
}

test_delete_without_owner_denied if {
	doc := json.remove(prod_model, ["metadata/owner"])
	count(data.specops.policies.production_change_approval.deny) == 1 with input as change("delete", doc, null)
}

test_delete_of_dev_resource_needs_nothing if {
	doc := json.patch(prod_model, [{"op": "replace", "path": "/metadata/labels", "value": {}}])
	inp := change("delete", doc, null)
	count(data.specops.policies.production_change_approval.approval) == 0 with input as inp
	count(data.specops.policies.production_change_approval.deny) == 0 with input as inp
}

windows := [{"name": "year-end", "start": "2026-12-20T00:00:00Z", "end": "2027-01-03T00:00:00Z"}]

test_production_change_inside_freeze_denied if {
	inp := json.patch(change("update", prod_model, prod_model), [{"op": "replace", "path": "/context/now", "value": "2026-12-24T12:00:00Z"}])
	some msg in data.specops.policies.freeze_window.deny with input as inp with data.project.freeze_windows as windows
	contains(msg, "year-end")
}

test_production_change_outside_freeze_passes if {
	inp := change("update", prod_model, prod_model)
	count(data.specops.policies.freeze_window.deny) == 0 with input as inp with data.project.freeze_windows as windows
}

test_freeze_ends_at_its_end if {
	inp := json.patch(change("update", prod_model, prod_model), [{"op": "replace", "path": "/context/now", "value": "2027-01-03T00:00:00Z"}])
	count(data.specops.policies.freeze_window.deny) == 0 with input as inp with data.project.freeze_windows as windows
}

test_dev_change_inside_freeze_passes if {
	doc := json.patch(prod_model, [{"op": "replace", "path": "/metadata/labels", "value": {}}])
	inp := json.patch(change("update", doc, doc), [{"op": "replace", "path": "/context/now", "value": "2026-12-24T12:00:00Z"}])
	count(data.specops.policies.freeze_window.deny) == 0 with input as inp with data.project.freeze_windows as windows
}
