# METADATA
# title: GPU targets offer the CUDA provider
# description: >-
#   A target that declares GPUs lists CUDAExecutionProvider, or models placed
#   there would silently run on the CPU.
# custom:
#   id: SO-TARGET-001
#   severity: medium
package specops.policies.target_gpu_provider

import data.specops.lib
import rego.v1

deny contains {"msg": msg, "field": "spec.providers"} if {
	input.resource.kind == "Target"
	input.change.action != "delete"
	lib.gpus(input.resource) > 0
	not "CUDAExecutionProvider" in lib.providers(input.resource)
	msg := sprintf("target %s declares %d GPU(s) but its providers do not include CUDAExecutionProvider", [
		input.resource.metadata.name, lib.gpus(input.resource),
	])
}
