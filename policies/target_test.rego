package specops.policies.target_test

import rego.v1

target(spec) := {
	"scope": "resource",
	"change": {"id": "Target/gpu", "kind": "Target", "name": "gpu", "action": "create"},
	"resource": {"kind": "Target", "metadata": {"name": "gpu"}, "spec": spec},
	"related": {},
	"context": {"now": "2026-11-02T10:00:00Z"},
}

test_gpu_target_without_cuda_denied if {
	inp := target({"environment": "production", "accelerators": {"gpus": 2}, "providers": ["TensorrtExecutionProvider", "CPUExecutionProvider"]})
	some result in data.specops.policies.target_gpu_provider.deny with input as inp
	result.field == "spec.providers"
}

test_gpu_target_with_default_providers_denied if {
	inp := target({"environment": "production", "accelerators": {"gpus": 1}})
	count(data.specops.policies.target_gpu_provider.deny) == 1 with input as inp
}

test_gpu_target_with_cuda_passes if {
	inp := target({"environment": "production", "accelerators": {"gpus": 1}, "providers": ["CUDAExecutionProvider", "CPUExecutionProvider"]})
	count(data.specops.policies.target_gpu_provider.deny) == 0 with input as inp
}

test_cpu_target_passes if {
	count(data.specops.policies.target_gpu_provider.deny) == 0 with input as target({"environment": "development"})
}
