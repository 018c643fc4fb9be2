package specops.policies.prompt_test

import rego.v1

prompt(evaluation) := {"kind": "Prompt", "metadata": {"name": "summary"}, "spec": {"model": "scorer", "evaluation": evaluation}}

related := {
	"Model/scorer": {"kind": "Model", "metadata": {"name": "scorer", "labels": {"tier": "prod"}}, "spec": {"targets": ["cpu"]}},
}

create(doc) := {
	"scope": "resource",
	"change": {"id": "Prompt/summary", "kind": "Prompt", "name": "summary", "action": "create"},
	"resource": doc,
	"related": related,
	"context": {"now": "2026-11-02T10:00:00Z"},
}

test_passing_gate_passes if {
	count(data.specops.policies.prompt_eval_gate.deny) == 0 with input as create(prompt({"suite": "s", "metric": "m", "minScore": 0.8, "score": 0.86}))
}

test_failing_gate_denied if {
	some result in data.specops.policies.prompt_eval_gate.deny with input as create(prompt({"suite": "s", "metric": "m", "minScore": 0.8, "score": 0.7}))
	result.field == "spec.evaluation.score"
}

test_unmeasured_gate_denied if {
	count(data.specops.policies.prompt_eval_gate.deny) == 1 with input as create(prompt({"suite": "s", "metric": "m", "minScore": 0.8}))
}

test_missing_gate_denied if {
	doc := json.remove(prompt({}), ["spec/evaluation"])
	count(data.specops.policies.prompt_eval_gate.deny) == 1 with input as create(doc)
}

test_prompt_for_dev_model_needs_no_gate if {
	doc := json.remove(prompt({}), ["spec/evaluation"])
	inp := json.patch(create(doc), [{"op": "replace", "path": "/related/Model~1scorer/metadata/labels", "value": {}}])
	count(data.specops.policies.prompt_eval_gate.deny) == 0 with input as inp
}
