# Helpers the built-in policies share. Documents are canonical specs: a field
# left at its default is absent, so every read of an optional field names its
# default with object.get.
#
# Policies name this package's rules in full (data.specops.lib.changing), its
# functions through the import (lib.production(doc, related)): regorus answers
# a rule read through the import alias by evaluating every rule of the package,
# which was a fifth of a decision's time.
package specops.lib

import rego.v1

production_words := {"prod", "production"}

# Labelled production (tier, env or environment label), or a production Target.
labelled_production(doc) if object.get(doc, ["metadata", "labels", "tier"], "") in production_words

labelled_production(doc) if object.get(doc, ["metadata", "labels", "env"], "") in production_words

labelled_production(doc) if object.get(doc, ["metadata", "labels", "environment"], "") in production_words

labelled_production(doc) if {
	doc.kind == "Target"
	doc.spec.environment == "production"
}

# A model is production when labelled so or placed on a production target.
model_production(model, related) if labelled_production(model)

model_production(model, related) if {
	some name in object.get(model, ["spec", "targets"], [])
	labelled_production(related[sprintf("Target/%s", [name])])
}

# Any resource: models as above; prompts and SLOs follow the model they are for.
production(doc, related) if labelled_production(doc)

production(doc, related) if {
	doc.kind == "Model"
	model_production(doc, related)
}

production(doc, related) if {
	doc.kind in {"Prompt", "SLO"}
	model_production(related[sprintf("Model/%s", [doc.spec.model])], related)
}

# The resource this input is about is production.
is_production if production(input.resource, input.related)

# Execution providers, with the spec language's default.
providers(doc) := object.get(doc, ["spec", "runtime", "providers"], ["CPUExecutionProvider"]) if doc.kind == "Model"

providers(doc) := object.get(doc, ["spec", "providers"], ["CPUExecutionProvider"]) if doc.kind == "Target"

gpu_providers := {
	"CUDAExecutionProvider",
	"TensorrtExecutionProvider",
	"ROCMExecutionProvider",
	"MIGraphXExecutionProvider",
	"DmlExecutionProvider",
}

gpus(target) := object.get(target, ["spec", "accelerators", "gpus"], 0)

# Without the CPU provider, a model cannot run anywhere but on a GPU.
requires_gpu(model) if not "CPUExecutionProvider" in providers(model)

updating if input.change.action == "update"

changing if input.change.action in {"create", "update", "replace", "delete"}
