# METADATA
# title: GPU-only models are not placed on CPU-only targets
# description: >-
#   A model whose runtime providers leave out CPUExecutionProvider needs a GPU;
#   every target it is placed on must have one.
# custom:
#   id: SO-MODEL-006
#   severity: high
package specops.policies.model_gpu_placement

import data.specops.lib
import rego.v1

deny contains {"msg": msg, "field": sprintf("spec.targets[%d]", [i])} if {
	input.resource.kind == "Model"
	input.change.action != "delete"
	lib.requires_gpu(input.resource)
	some i, name in input.resource.spec.targets
	target := input.related[sprintf("Target/%s", [name])]
	lib.gpus(target) == 0
	msg := sprintf("model %s needs a GPU (its providers are %v) but target %s has none", [
		input.resource.metadata.name, lib.providers(input.resource), name,
	])
}
