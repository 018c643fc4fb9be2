# METADATA
# title: Models trained on PII have input and output guardrails
# description: >-
#   A model trained on a dataset flagged as PII (the dataset or any column)
#   is attached to guardrails that check both its inputs and its outputs.
# custom:
#   id: SO-DATA-002
#   severity: high
package specops.policies.pii_guardrails

import rego.v1

dataset := input.related[sprintf("Dataset/%s", [input.resource.spec.trainedOn.dataset])]

pii if object.get(dataset, ["spec", "pii"], false) == true

pii if {
	some column in object.get(dataset, ["spec", "schema", "columns"], [])
	object.get(column, "pii", false) == true
}

stages contains object.get(check, "stage", "input") if {
	some name in object.get(input.resource, ["spec", "guardrails"], [])
	guardrail := input.related[sprintf("Guardrail/%s", [name])]
	some check in guardrail.spec.checks
}

deny contains {"msg": msg, "field": "spec.guardrails"} if {
	input.resource.kind == "Model"
	input.change.action != "delete"
	pii
	some stage in ["input", "output"]
	not stage in stages
	msg := sprintf("model %s is trained on PII (dataset %s) but no attached guardrail checks its %ss", [
		input.resource.metadata.name, dataset.metadata.name, stage,
	])
}
