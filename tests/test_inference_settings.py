"""Inference settings: every mistake and every version skew is a config error naming the key, before anything
is registered."""

from __future__ import annotations

import json

import pytest

from stacks import compatibility
from stacks.compatibility import AddonVersion
from stacks.config_loader import parse_settings
from stacks.errors import ConfigError
from tests.harness import config_error, messages, stack_config

ADDON = "ack-gateway-with-inference-extension"


def problems(overrides: dict, secrets=()) -> dict[str, str]:
    """Problems of `dev` with `overrides`, by key path."""
    with pytest.raises(ConfigError) as caught:
        parse_settings(*stack_config("dev", overrides, secrets).project_values())
    return {message.split(": ", 1)[0]: message.split(": ", 1)[1] for message in messages(caught.value)}


def accepted(overrides: dict, secrets=()):
    return parse_settings(*stack_config("dev", overrides, secrets).project_values())


def addon(version: str) -> dict:
    return {"addons": {"inferenceGateway": {"name": ADDON, "version": version}}}


def test_a_config_error_registers_nothing():
    error = config_error("dev", {"routing": {"apiVersion": "v1alpha1"}})
    assert messages(error)[0].startswith("ack-inference:routing.apiVersion: `v1alpha1` needs gateway add-on")


def test_backend_request_timeout_may_not_exceed_the_request_timeout():
    found = problems({"gateway": {"requestTimeout": "1h", "backendRequestTimeout": "90m"}})
    assert found["ack-inference:gateway.backendRequestTimeout"].startswith("is longer than `requestTimeout`")
    assert accepted({"gateway": {"requestTimeout": "1h", "backendRequestTimeout": "60m"}})
    assert problems({"gateway": {"requestTimeout": "1 day"}})["ack-inference:gateway.requestTimeout"].startswith(
        "String should match pattern"
    )


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"models": [{"image": "vllm/vllm-openai:latest"}]}, "models[0].image"),
        ({"models": [{"image": "vllm/vllm-openai"}]}, "models[0].image"),
        ({"models": [{"image": "registry:5000/vllm-openai"}]}, "models[0].image"),
        (
            {"models": [{"mode": "simulator", "simulatorImage": "ghcr.io/llm-d/llm-d-inference-sim"}]},
            "models[0].simulatorImage",
        ),
        ({"routing": {"endpointPicker": {"image": "registry.k8s.io/epp:latest"}}}, "routing.endpointPicker.image"),
        ({"benchmark": {"image": "vllm/vllm-openai"}}, "benchmark.image"),
    ],
)
def test_images_must_be_pinned(overrides, key):
    message = problems(overrides)[f"ack-inference:{key}"]
    assert "pin a version tag or a digest" in message


def test_a_digest_pins_an_image_and_the_tag_must_name_the_vllm_version():
    digest = "vllm/vllm-openai@sha256:" + "a" * 64
    assert accepted({"models": [{"image": digest}]}).models[0].image == digest
    found = problems({"models": [{"image": "vllm/vllm-openai:v0.9.0", "vllmVersion": "0.8.5.post1"}]})
    assert "names another vLLM version" in found["ack-inference:models[0]"]
    assert (
        "is not a vLLM version"
        in problems({"models": [{"vllmVersion": "latest"}]})["ack-inference:models[0].vllmVersion"]
    )


def test_the_v1_api_needs_add_on_v1_4_0_apsara_4():
    message = problems(addon("v1.4.0-apsara.3"))["ack-inference:routing.apiVersion"]
    assert "`v1` needs gateway add-on v1.4.0-apsara.4 or newer" in message
    assert "`addons.inferenceGateway.version` is v1.4.0-apsara.3" in message
    assert accepted(addon("v1.4.0-apsara.4")).routing.api_version == "v1"


def test_a_pool_backend_ref_needs_add_on_v1_3_0_aliyun_2():
    found = problems({**addon("v1.3.0-aliyun.1"), "routing": {"apiVersion": "v1alpha1", "attachment": "backendRef"}})
    assert (
        "an HTTPRoute backendRef to an InferencePool needs gateway add-on v1.3.0-aliyun.2 or newer"
        in (found["ack-inference:routing.attachment"])
    )
    assert accepted({**addon("v1.3.0-aliyun.2"), "routing": {"apiVersion": "v1alpha2"}})


def test_model_name_header_routing_needs_add_on_1_4_0():
    two_names = {"models": [{"name": "a"}, {"name": "b", "servedModelName": "other"}]}
    found = problems({**addon("v1.3.0-aliyun.2"), "routing": {"apiVersion": "v1alpha2"}, **two_names})
    assert (
        "routing several served model names by header needs gateway add-on v1.4.0 or newer"
        in (found["ack-inference:models"])
    )
    assert accepted({**addon("v1.4.0-aliyun.1"), "routing": {"apiVersion": "v1alpha2"}, **two_names})
    # A canary (one served name on two servers) needs no header.
    canary = {"models": [{"name": "a"}, {"name": "b"}]}
    assert accepted({**addon("v1.3.0-aliyun.2"), "routing": {"apiVersion": "v1alpha2"}, **canary})


def test_v1alpha1_needs_an_add_on_that_still_serves_it():
    message = problems({**addon("v1.3.0-aliyun.2"), "routing": {"apiVersion": "v1alpha1"}})[
        "ack-inference:routing.apiVersion"
    ]
    assert "`v1alpha1` needs gateway add-on older than v1.3.0-aliyun.2" in message
    assert accepted({**addon("v1.3.0-aliyun.1"), "routing": {"apiVersion": "v1alpha1"}})


def test_unset_add_on_version_is_checked_as_the_assumed_one():
    message = problems({"routing": {"apiVersion": "v1alpha1"}})["ack-inference:routing.apiVersion"]
    assert f"is {compatibility.ASSUMED_ADDON_VERSION.text} (assumed: it is unset)" in message


def test_vllm_outside_the_add_on_range():
    newer = {"models": [{"image": "vllm/vllm-openai:v0.11.0", "vllmVersion": "0.11.0"}]}
    message = problems(newer)["ack-inference:models[0].vllmVersion"]
    assert "vLLM 0.11.0 is outside what gateway add-on v1.4.0-apsara.4 (assumed: it is unset) supports" in message
    assert "0.6.4 or newer, older than 0.11.0" in message
    assert accepted({**newer, **addon("v1.6.1-apsara.3")})
    older = {"models": [{"image": "vllm/vllm-openai:v0.6.3", "vllmVersion": "0.6.3"}]}
    assert "ack-inference:models[0].vllmVersion" in problems(older)
    # A simulator is not vLLM: its version is not checked.
    assert accepted({"models": [{**newer["models"][0], "mode": "simulator"}]})


def test_a_self_hosted_picker_has_its_own_vllm_floor_and_needs_v1():
    self_hosted = {"routing": {"endpointPicker": {"mode": "selfHosted"}}}
    old = {"models": [{"image": "vllm/vllm-openai:v0.7.3", "vllmVersion": "0.7.3"}]}
    assert (
        "self-hosted endpoint picker needs vLLM 0.8.0"
        in problems({**self_hosted, **old})["ack-inference:models[0].vllmVersion"]
    )
    # It reads the KV-cache metric the vLLM version exports, so new vLLM is fine with it.
    assert accepted({**self_hosted, "models": [{"image": "vllm/vllm-openai:v0.12.0", "vllmVersion": "0.12.0"}]})
    found = problems(
        {**addon("v1.4.0-apsara.3"), "routing": {"apiVersion": "v1alpha2", "endpointPicker": {"mode": "selfHosted"}}}
    )
    assert found["ack-inference:routing.endpointPicker.mode"].startswith("`selfHosted` deploys the v1 endpoint picker")


def test_an_unreadable_add_on_version_is_named():
    assert problems(addon("1.4"))["ack-inference:addons.inferenceGateway.version"].startswith(
        "is not an add-on version"
    )


def test_add_on_versions_order_like_the_changelog():
    order = ["v1.3.0-aliyun.1", "v1.3.0-aliyun.2", "v1.4.0", "v1.4.0-aliyun.1", "v1.4.0-apsara.3", "v1.4.0-apsara.4",
             "v1.6.1", "v1.6.1-apsara.3"]  # fmt: skip
    parsed = [AddonVersion.parse(text) for text in order]
    assert sorted(parsed) == parsed
    assert AddonVersion.parse("1.4.0-apsara.4") == AddonVersion.parse("v1.4.0-apsara.4")


def test_canary_servers_must_serve_the_same_model_names():
    lora = {"adapters": [{"name": "sql-lora", "path": "/adapters/sql"}]}
    found = problems({"models": [{"name": "a", "lora": lora}, {"name": "b"}]})
    assert (
        "serves `modelscope/Llama-2-7b-ms` like models[0] (a canary pair) but with other adapters"
        in found["ack-inference:models[1].lora"]
    )
    assert (
        "all weights 0"
        in problems({"models": [{"name": "a", "weight": 0}, {"name": "b", "weight": 0}]})[
            "ack-inference:models[1].weight"
        ]
    )
    clash = {"models": [{"name": "a", "lora": {"adapters": [{"name": "other", "path": "/x"}]}},
                        {"name": "b", "servedModelName": "other"}]}  # fmt: skip
    assert "model name `other` is also served by" in problems(clash)["ack-inference:models[1].lora"]


def test_the_attach_to_annotation_attaches_a_single_pool():
    found = problems({"routing": {"attachment": "annotation"}, "models": [{"name": "a"}, {"name": "b"}]})
    assert found["ack-inference:routing.attachment"].startswith("`annotation` attaches one pool")


def test_derived_kubernetes_names_must_not_collide():
    assert "ack-inference:models[1].name" in problems({"models": [{"name": "a"}, {"name": "a"}]})
    picker_clash = problems({"models": [{"name": "a"}, {"name": "b", "endpointPickerName": "a"}]})
    assert (
        "endpoint picker `a` is also the name of another object"
        in picker_clash["ack-inference:models[1].endpointPickerName"]
    )
    assert "ack-inference:models[1].objectiveName" in problems(
        {"models": [{"name": "a", "objectiveName": "x"}, {"name": "b", "objectiveName": "x"}]}
    )


def test_source_keys_belong_to_their_source_type():
    assert problems({"models": [{"source": {"type": "huggingFace"}}]})["ack-inference:models[0].source.repo"] == (
        "is required with `source.type: huggingFace`"
    )
    assert (
        problems({"models": [{"source": {"repo": "meta-llama/Llama-2-7b-hf"}}]})["ack-inference:models[0].source.repo"]
        == "is not used with `source.type: baked`"
    )
    oss = {"type": "oss", "bucket": "models", "endpoint": "oss-cn-hangzhou-internal.aliyuncs.com"}
    assert (
        "set exactly one of `ramRole`"
        in problems({"models": [{"source": oss}]})["ack-inference:models[0].source.ramRole"]
    )
    both = {**oss, "ramRole": "reader", "credentialsSecret": "oss"}
    assert "ack-inference:models[0].source.ramRole" in problems({"models": [{"source": both}]})
    settings = accepted({"models": [{"source": {**oss, "ramRole": "reader", "path": "/llama-2-7b-hf/"}}]})
    assert settings.models[0].served_name == "llama-2-7b-hf"


def test_benchmark_needs_a_vllm_image_and_a_tokenizer():
    assert problems({"benchmark": {"enabled": True, "model": "missing"}})["ack-inference:benchmark.model"] == (
        "names no configured model server"
    )
    simulator = {"models": [{"mode": "simulator", "replicas": 2}], "benchmark": {"enabled": True}}
    found = problems(simulator)
    assert "its image has no `vllm` CLI" in found["ack-inference:benchmark.image"]
    assert "ack-inference:benchmark.tokenizer" in found
    old = {
        "models": [{"image": "vllm/vllm-openai:v0.8.4", "vllmVersion": "0.8.4", "replicas": 2}],
        "benchmark": {"enabled": True},
    }
    assert "has no `vllm bench serve`" in problems(old)["ack-inference:benchmark.image"]
    assert accepted({**old, "benchmark": {"enabled": True, "image": "vllm/vllm-openai:v0.10.2"}})


def test_the_simulator_takes_no_chat_template():
    found = problems({"models": [{"mode": "simulator", "chatTemplate": "llama-2"}]})
    assert found["ack-inference:models[0].chatTemplate"] == "is a vLLM option; the simulator has none"
    assert (
        "is neither a bundled template"
        in problems({"models": [{"chatTemplate": "llama-3"}]})["ack-inference:models[0].chatTemplate"]
    )


def test_one_route_holds_at_most_128_header_matches():
    models = [
        {
            "name": f"m{index}",
            "servedModelName": f"model-{index}",
            "lora": {"adapters": [{"name": f"a{index}-{n}", "path": f"/adapters/{n}"} for n in range(8)]},
        }
        for index in range(16)
    ]
    assert "routes 144 model names by header" in problems({"models": models})["ack-inference:models"]


def test_the_default_model_downloads_llama_2_from_modelscope_in_mainland_china():
    (model,) = parse_settings({}, region="cn-hangzhou").models
    assert (model.source.type, model.source.repo) == ("modelScope", "modelscope/Llama-2-7b-ms")
    assert model.served_name == "modelscope/Llama-2-7b-ms"


@pytest.mark.parametrize("region", ["cn-hongkong", "ap-southeast-1", "us-west-1"])
def test_the_default_model_downloads_llama_2_from_hugging_face_elsewhere(region):
    with pytest.raises(ConfigError) as caught:
        parse_settings({}, region=region)
    assert messages(caught.value) == [
        "ack-inference:hfToken: is required: `models[0].source.repo` is a gated Hugging Face repository; set a "
        "token of an account that accepted its licence (`pulumi config set --secret hfToken <token>`), or use "
        "`source.type: modelScope`"
    ]
    (model,) = parse_settings({"hfToken": "hf_x"}, {"hfToken"}, region=region).models
    assert (model.source.type, model.source.repo) == ("huggingFace", "meta-llama/Llama-2-7b-hf")


def test_a_written_source_wins_over_the_regional_default():
    source = {"type": "huggingFace", "repo": "Qwen/Qwen2.5-0.5B-Instruct"}
    (model,) = parse_settings({"models": json.dumps([{"source": source}])}, region="cn-hangzhou").models
    assert (model.source.type, model.source.repo) == ("huggingFace", "Qwen/Qwen2.5-0.5B-Instruct")


def test_baked_weights_need_an_image_that_holds_them():
    found = problems({"models": [{"source": {"type": "baked"}}]})
    assert found["ack-inference:models[0].image"].startswith("holds vLLM but no model weights")
    with_weights = {"source": {"type": "baked"}, "image": "registry.example/llama2:v0.8.5.post1"}
    assert accepted({"models": [with_weights]}).models[0].served_name == "/model/llama2"
    # The simulator serves no weights, so the check does not apply to it.
    assert accepted({"models": [{"source": {"type": "baked"}, "mode": "simulator"}]})


def test_production_keeps_at_least_two_replicas_of_every_vllm_server():
    found = problems({"tier": "production", "models": [{"name": "one"}, {"name": "two", "replicas": 2}]})
    found.pop("ack-inference:nodePools.gpu.maxSize")  # 3 replicas do not fit dev's pool either
    found.pop("ack-inference:security.exposure")  # dev's gateway authenticates nobody, which production refuses
    assert found == {
        "ack-inference:models[0].replicas": "must be at least 2 with `tier: production`, so that a rollout or the "
        "loss of a node never takes the model offline"
    }
    assert accepted({"tier": "development", "models": [{"replicas": 1}]})
    opt_out = {"exposure": {"allowUnauthenticated": True}}
    assert accepted({"tier": "production", "models": [{"mode": "simulator", "replicas": 1}], "security": opt_out})


NO_NAT = {"network": {"natGateway": False}}


def test_without_a_nat_gateway_every_internet_source_is_an_error():
    found = problems(NO_NAT)
    assert set(found) == {"ack-inference:models[0].image", "ack-inference:models[0].source.type"}
    assert found["ack-inference:models[0].image"].startswith(
        "needs the internet, but `network.natGateway: false` leaves the nodes without it; copy the image to ACR"
    )
    assert found["ack-inference:models[0].source.type"].startswith("`modelScope` downloads the weights")
    oss = {"type": "oss", "bucket": "models", "endpoint": "oss-cn-hangzhou.aliyuncs.com", "ramRole": "reader"}
    found = problems(
        {
            **NO_NAT,
            "models": [
                {
                    "image": "registry.cn-hangzhou.aliyuncs.com/team/vllm:v0.8.5.post1",
                    "vllmVersion": "0.8.5.post1",
                    "source": oss,
                }
            ],
        }
    )
    assert set(found) == {"ack-inference:models[0].image", "ack-inference:models[0].source.endpoint"}


def test_without_a_nat_gateway_vpc_endpoints_plan():
    oss = {"type": "oss", "bucket": "models", "endpoint": "oss-cn-hangzhou-internal.aliyuncs.com", "ramRole": "r"}
    for registry in ("registry-vpc.cn-hangzhou.aliyuncs.com", "acr1-registry-vpc.cn-hangzhou.cr.aliyuncs.com"):
        model = {"image": f"{registry}/team/vllm:v0.8.5.post1", "source": oss}
        assert accepted({**NO_NAT, "models": [model]}).models[0].source.type == "oss"


def test_docker_hub_and_hugging_face_warn_in_mainland_china_only():
    from stacks.settings import settings_warnings

    hf = {"models": json.dumps([{"source": {"type": "huggingFace", "repo": "Qwen/Qwen2.5-0.5B-Instruct"}}])}
    for region, expected in (("cn-hangzhou", 2), ("cn-beijing", 2), ("cn-hongkong", 0), ("us-west-1", 0)):
        found = [str(w) for w in settings_warnings(parse_settings(hf, region=region))]
        assert len(found) == expected, (region, found)
    found = sorted(str(w) for w in settings_warnings(parse_settings(hf, region="cn-hangzhou")))
    assert found[0].startswith("ack-inference:models[0].image: comes from Docker Hub, often slow or unreachable")
    assert "ACR" in found[0]
    assert found[1].startswith("ack-inference:models[0].source.type: `huggingFace`: the Hugging Face Hub")
    assert "ModelScope" in found[1] and "OSS" in found[1]


def test_the_benchmark_needs_two_pods_of_the_model_it_measures():
    one_pod = {"benchmark": {"enabled": True}}
    error = config_error("dev", one_pod)
    assert messages(error) == [
        "ack-inference:models[0].replicas: must be at least 2 while `benchmark.enabled` measures this model "
        "server: with one pod the endpoint picker has nothing to choose between, so 8081 cannot show a routing "
        "gain over 8080"
    ]
    autoscaled = {"models": [{"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 2}}]}
    assert "ack-inference:models[0].autoscaling.minReplicas" in problems({**one_pod, **autoscaled})
    assert accepted({**one_pod, "models": [{"replicas": 2}]}).benchmark.enabled
    # Only the measured server needs two pods.
    two = {
        "models": [{"name": "a", "replicas": 2}, {"name": "b", "servedModelName": "other"}],
        "nodePools": {"gpu": {"maxSize": 4}},
    }
    assert accepted({"benchmark": {"enabled": True, "model": "a"}, **two}).benchmark.enabled
    assert "ack-inference:models[1].replicas" in problems({"benchmark": {"enabled": True, "model": "b"}, **two})


BAKED_IMAGE = "registry-vpc.cn-hangzhou.aliyuncs.com/team/vllm-llama2:v0.8.5.post1"


def test_baked_images_run_the_vllm_server_module_unless_told_otherwise():
    baked = {"source": {"type": "baked"}, "image": BAKED_IMAGE}
    (model,) = accepted({"models": [baked]}).models
    assert model.container_command == ["python3", "-m", "vllm.entrypoints.openai.api_server"]
    (model,) = accepted({"models": [{**baked, "command": ["vllm", "serve"]}]}).models
    assert model.container_command == ["vllm", "serve"]
    (model,) = accepted({}).models
    assert model.container_command is None  # the vllm-openai image's own ENTRYPOINT


def test_extra_args_and_env_may_not_set_what_the_program_sets():
    model = {
        "extraArgs": ["--port", "9000", "--model=other", "--served_model_name", "x", "-tp", "2", "--max-num-seqs", "8"],
        "env": {"HF_TOKEN": "x", "VLLM_USE_MODELSCOPE": "false", "VLLM_LOGGING_LEVEL": "DEBUG"},
    }
    error = config_error("dev", {"models": [model]})
    assert messages(error) == [
        "ack-inference:models[0].env.HF_TOKEN: is set by the program from `hfToken`",
        "ack-inference:models[0].env.VLLM_USE_MODELSCOPE: is set by the program from `source.type`",
        "ack-inference:models[0].extraArgs[0]: `--port` is set by the program from `the pool's target port, "
        "fixed at 8000`",
        "ack-inference:models[0].extraArgs[2]: `--model` is set by the program from `source`",
        "ack-inference:models[0].extraArgs[3]: `--served-model-name` is set by the program from `servedModelName`",
        "ack-inference:models[0].extraArgs[5]: `-tp` is set by the program from `gpusPerReplica`",
    ]


def test_extra_args_must_be_flags_of_the_images_vllm_version():
    found = problems({"models": [{"extraArgs": ["--max-num-seq", "8", "--dtype", "half"]}]})
    assert found == {
        "ack-inference:models[0].extraArgs[0]": "`--max-num-seq` is not a flag of vLLM 0.8.5.post1's OpenAI server "
        "(its command-line catalogue schemas/vllm/cli-v0.8.5.post1.json; abbreviations are not accepted)"
    }
    (model,) = accepted({"models": [{"extraArgs": ["--max-num-seqs", "8", "--quantization", "awq"]}]}).models
    assert model.extra_args == ["--max-num-seqs", "8", "--quantization", "awq"]
    # Deprecated but present in v0.10.2; removed in v0.18.2 (an argparse error at start).
    old = {"image": "vllm/vllm-openai:v0.10.2", "vllmVersion": "0.10.2", "extraArgs": ["--disable-log-requests"]}
    assert accepted({"models": [old]}).models[0].extra_args == ["--disable-log-requests"]
    new = {"image": "vllm/vllm-openai:v0.18.2", "vllmVersion": "0.18.2", "extraArgs": ["--disable-log-requests"]}
    assert "is not a flag of vLLM 0.18.2" in problems({"models": [new]})["ack-inference:models[0].extraArgs[0]"]
