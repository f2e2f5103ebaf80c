"""Inference layer components: model servers, gateway, routing, endpoint picker, benchmark, isolation."""
