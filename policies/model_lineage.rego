# METADATA
# title: Production models name the dataset version they were trained on
# description: >-
#   Lineage: a production model's spec.trainedOn names a dataset and the exact
#   version of it that the repository declares.
# custom:
#   id: SO-MODEL-004
#   severity: medium
package specops.policies.model_lineage

import data.specops.lib
import rego.v1

deny contains {"msg": msg, "field": "spec"} if {
	input.resource.kind == "Model"
	input.change.action != "delete"
	data.specops.lib.is_production
	not input.resource.spec.trainedOn
	msg := sprintf("production model %s has no lineage: add spec.trainedOn {dataset, version}", [input.resource.metadata.name])
}

deny contains {"msg": msg, "field": "spec.trainedOn.version"} if {
	input.resource.kind == "Model"
	input.change.action != "delete"
	data.specops.lib.is_production
	lineage := input.resource.spec.trainedOn
	dataset := input.related[sprintf("Dataset/%s", [lineage.dataset])]
	dataset.spec.version != lineage.version
	msg := sprintf("model %s is trained on %s@%s but the repository declares version %s", [
		input.resource.metadata.name, lineage.dataset, lineage.version, dataset.spec.version,
	])
}
