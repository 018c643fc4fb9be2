"""The example estate ``specops init`` writes: one commented spec of each kind, and what they point at.

The Model's artifact and the Dataset's file are real (a three-feature
logistic regression written with ``onnx.helper``, and the small CSV it
stands for), so ``specops validate --verify-artifacts`` passes and the
estate can be served by ``specops serve`` as it is. Their bytes are
deterministic; the specs carry their sha256.
"""

from __future__ import annotations

import hashlib

__all__ = ["example_files"]

FEATURES = ("tenure_months", "monthly_spend", "support_tickets")
WEIGHTS = (-0.08, 0.01, 0.6)
BIAS = -0.5
DATA_URI = "specs/data/customers-2026-01.csv"
MODEL_URI = "specs/artifacts/churn-scorer-1.0.0.onnx"


def _csv() -> bytes:
    # 48 made-up customers, no randomness: the same bytes on every machine.
    lines = [",".join((*FEATURES, "churned"))]
    for i in range(48):
        tenure = 1 + (i * 7) % 60
        spend = 20 + (i * 13) % 80
        tickets = (i * 5) % 6
        score = BIAS + WEIGHTS[0] * tenure + WEIGHTS[1] * spend + WEIGHTS[2] * tickets
        lines.append(f"{tenure},{spend}.0,{tickets},{int(score > 0)}")
    return ("\n".join(lines) + "\n").encode()


def _model() -> bytes:
    from onnx import TensorProto, helper

    weights = helper.make_tensor("weights", TensorProto.FLOAT, [3, 1], list(WEIGHTS))
    bias = helper.make_tensor("bias", TensorProto.FLOAT, [1], [BIAS])
    one = helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])
    nodes = [
        helper.make_node("MatMul", ["features", "weights"], ["xw"]),
        helper.make_node("Add", ["xw", "bias"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["p_churn"]),
        helper.make_node("Sub", ["one", "p_churn"], ["p_stay"]),
        helper.make_node("Concat", ["p_stay", "p_churn"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "churn-scorer",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, 3])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        initializer=[weights, bias, one],
    )
    model = helper.make_model(
        graph, producer_name="specops-init", opset_imports=[helper.make_opsetid("", 17)], ir_version=9
    )
    return bytes(model.SerializeToString(deterministic=True))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


TARGET = """\
# yaml-language-server: $schema=../../schemas/target.json
# A serving target: where models run. `specops serve --state-dir .serve --token-env SPECOPS_LOCAL_TOKEN`
# starts this one on your machine. Secrets never go in specs: auth names the
# environment variable that holds the admin token.
apiVersion: specops.dev/v1
kind: Target
metadata:
  name: local
  labels: {env: dev}
  owner: ml-platform
spec:
  type: specops-serve
  url: http://127.0.0.1:8480
  # development | staging | production; the built-in policies hold production
  # to more (canary rollouts, SLOs, lineage, checksums, owner approvals).
  environment: development
  providers: [CPUExecutionProvider]
  auth:
    tokenEnv: SPECOPS_LOCAL_TOKEN
  capacity:
    maxModels: 4
    memoryMiB: 1024
"""

DATASET = """\
# yaml-language-server: $schema=../../schemas/dataset.json
# A data version: the file (with its checksum) and its schema as a data contract.
# A model names the version it was trained on (Model spec.trainedOn); guardrails
# can enforce the contract on live requests.
apiVersion: specops.dev/v1
kind: Dataset
metadata:
  name: customers
  owner: ml-platform
  description: Customers and whether they left (a made-up example; replace with yours).
spec:
  version: "2026-01"
  artifact:
    uri: {data_uri}
    sha256: {data_sha}
    sizeBytes: {data_size}
  format: csv
  # true turns on the PII policies (guardrails on inputs and outputs).
  pii: false
  schema:
    label: churned
    columns:
      - {{name: tenure_months, dtype: float, min: 0, max: 120, description: months since sign-up}}
      - {{name: monthly_spend, dtype: float, min: 0, max: 500, description: mean monthly bill}}
      - {{name: support_tickets, dtype: float, min: 0, max: 20, description: tickets in the last 90 days}}
      - {{name: churned, dtype: int, min: 0, max: 1, description: 1 when the customer left}}
"""

MODEL = """\
# yaml-language-server: $schema=../../schemas/model.json
# An ONNX model: the artifact (pinned by sha256), its signature, where it runs
# and how a new version rolls out. A new artifact needs a new version.
apiVersion: specops.dev/v1
kind: Model
metadata:
  name: churn-scorer
  labels: {{team: ml-platform}}
  owner: ml-platform
  description: P(churn) for a customer; class 1 of `probabilities`.
spec:
  version: 1.0.0
  artifact:
    uri: {model_uri}
    sha256: {model_sha}
    sizeBytes: {model_size}
  signature:
    inputs:
      - name: features
        dtype: float32
        shape: [-1, 3]
        features: [tenure_months, monthly_spend, support_tickets]
    outputs:
      - {{name: probabilities, dtype: float32, shape: [-1, 2]}}
  runtime:
    providers: [CPUExecutionProvider]
    intraOpThreads: 1
  targets: [local]
  trainedOn: {{dataset: customers, version: "2026-01"}}
  # canary: 10% of traffic, then 50%, then all, each step judged against the SLO;
  # a failed step rolls back by itself.
  rollout:
    strategy: canary
    steps: [10, 50, 100]
    analysis: {{slo: churn-scorer, minRequests: 100, interval: 10s, deadline: 5m}}
  guardrails: [churn-inputs]
"""

GUARDRAIL = """\
# yaml-language-server: $schema=../../schemas/guardrail.json
# Checks the serving target enforces on every request and answer:
# schema/range/regex/deny-list/PII/size/classifier; action block, redact or flag.
apiVersion: specops.dev/v1
kind: Guardrail
metadata:
  name: churn-inputs
  owner: ml-platform
spec:
  action: block
  checks:
    # the training data's contract (dtypes, ranges) applied to each request
    - {type: schema, stage: input, tensor: features, dataset: customers}
    - {type: range, stage: output, tensor: probabilities, min: 0.0, max: 1.0}
    - {type: size, stage: input, maxElements: 3072}
"""

SLO = """\
# yaml-language-server: $schema=../../schemas/slo.json
# What "good" means for a model: canaries are judged against it, and watch
# alerts (or rolls back) on its burn rate.
apiVersion: specops.dev/v1
kind: SLO
metadata:
  name: churn-scorer
  owner: ml-platform
spec:
  model: churn-scorer
  window: 30d
  objectives:
    - {type: latency, percentile: 95, thresholdMs: 50}
    - {type: errorRate, max: 0.001}
  alerting:
    burnRates:
      - {longWindow: 1h, shortWindow: 5m, factor: 14.4, severity: page}
      - {longWindow: 6h, shortWindow: 30m, factor: 6, severity: ticket}
  onBreach: {action: rollback}
"""

PROMPT = """\
# yaml-language-server: $schema=../../schemas/prompt.json
# A versioned prompt template bound to a model, with declared variables and the
# evaluation gate it passed (production prompts must meet minScore).
apiVersion: specops.dev/v1
kind: Prompt
metadata:
  name: churn-outreach
  owner: ml-platform
spec:
  version: 1.0.0
  model: churn-scorer
  template: |
    Customer {{ customer_id }} has a churn score of {{ score }}.
    Suggest one retention offer in at most {{ max_sentences }} sentences.
  variables:
    - {name: customer_id, maxLength: 64}
    - {name: score, maxLength: 8}
    - {name: max_sentences, required: false, default: "2"}
  parameters: {temperature: 0.2, maxTokens: 128}
  evaluation: {suite: outreach-v1, metric: rubric_score, minScore: 0.8, score: 0.85}
"""


def example_files() -> dict[str, bytes]:
    """Repository-relative path -> content of the example estate."""
    data = _csv()
    model = _model()
    return {
        "specs/targets/local.yaml": TARGET.encode(),
        DATA_URI: data,
        "specs/datasets/customers.yaml": DATASET.format(
            data_uri=DATA_URI, data_sha=_sha(data), data_size=len(data)
        ).encode(),
        MODEL_URI: model,
        "specs/models/churn-scorer.yaml": MODEL.format(
            model_uri=MODEL_URI, model_sha=_sha(model), model_size=len(model)
        ).encode(),
        "specs/guardrails/churn-inputs.yaml": GUARDRAIL.encode(),
        "specs/slos/churn-scorer.yaml": SLO.encode(),
        "specs/prompts/churn-outreach.yaml": PROMPT.encode(),
    }
