"""ack-inference: LLM inference with inference-aware routing on Alibaba Cloud ACK."""

from stacks.program import main

main()
